"""Storage formats of the data layer and how events become spikes on the dt grid: the flat
event split and its events.npz files (`events`), Heidelberg SHD/SSC HDF5 reading and writing
(`heidelberg`), the statistics recorded beside each prepared split (`prepared`) and binning
events onto the simulation grid (`binning`). Nothing is imported here; import the modules
themselves.
"""
