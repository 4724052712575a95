"""Shared core of the Bengali digit recognizer: the network, the image preprocessing and the
request payload formats, used alike by training, evaluation and the TorchServe handler."""

DIGITS = "০১২৩৪৫৬৭৮৯"
