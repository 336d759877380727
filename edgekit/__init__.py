"""edgekit: int8 ECG denoising + AF detection on microcontrollers, verified on the device."""
__version__ = "0.1.0"
