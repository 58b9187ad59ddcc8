"""`keras.preprocessing` names a Keras user imports: `tuinet.preprocessing.sequence.pad_sequences`."""

from tuinet.preprocessing import sequence

__all__ = ["sequence"]
