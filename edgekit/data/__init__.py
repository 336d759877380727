"""edgekit.data: mitdb records, nstdb noise, mixing at a given SNR, device input scaling,
record splits and window sets. See each module's docstring for the definitions."""
from .cinc2017 import load_cinc2017
from .errors import DataError
from .mixing import SNR_RANGE, measure_snr_db, mix
from .noise import NOISE_KINDS, load_noise, noise_part
from .paths import resolve_data_dir
from .records import FS, SEGMENT, WINDOW, WINDOWS_PER_SEGMENT, Record, af_mask, load_record, mitdb_records
from .scaling import normalize, target, to_adc
from .splits import AF_RECORDS, split_records
from .windows import (Segments, WindowSet, evaluation_windows, sample_pool_windows, sample_training_windows,
                      segment_windows)

__all__ = [
    "AF_RECORDS", "FS", "NOISE_KINDS", "SEGMENT", "SNR_RANGE", "WINDOW", "WINDOWS_PER_SEGMENT", "DataError",
    "Record", "Segments", "WindowSet", "af_mask", "evaluation_windows", "load_cinc2017", "load_noise", "load_record",
    "measure_snr_db", "mitdb_records", "mix", "noise_part", "normalize", "resolve_data_dir",
    "sample_pool_windows", "sample_training_windows", "segment_windows", "split_records", "target", "to_adc",
]
