"""Where a dataset comes from and how a corpus is made: synthetic SHD-like data
(`synthetic`), the sequence-detection task that needs delays (`sequence`), the spoken-digit
speech synthesizer (`speech`), recordings on disk (`audio`), the SHD/SSC download
(`download`, imports tonic), the corpus plan (`corpus`) and its conversion to spikes through
the cochlea (`convert`). Nothing is imported here, so importing one source loads only what
that source needs.
"""
