"""neurokws: Eventprop training of recurrent SNNs for keyword spotting, deployed to Loihi 2."""

__version__ = "0.1.0"
