"""edgekit.data: mitdb records (and qtdb, svdb, vfdb ones in the same form), nstdb noise, mixing at a given SNR, device input scaling,
record splits and window sets. See each module's docstring for the definitions."""
from .cinc2017 import load_cinc2017
from .errors import DataError
from .mixing import SNR_RANGE, measure_snr_db, mix
from .noise import NOISE_KINDS, load_noise, noise_part
from .paths import resolve_data_dir
from .records import (DATABASES, FS, SEGMENT, WINDOW, WINDOWS_PER_SEGMENT, Record, af_mask, database_of,
                      database_records, load_record, mitdb_records)
from .scaling import normalize, target, to_adc
from .splits import AF_RECORDS, cross_database_split, source_of, split_records
from .windows import (Segments, WindowSet, evaluation_windows, sample_pool_windows, rhythm_share_weights,
                      sample_training_windows, segment_windows)

__all__ = [
    "AF_RECORDS", "DATABASES", "FS", "NOISE_KINDS", "SEGMENT", "SNR_RANGE", "WINDOW", "WINDOWS_PER_SEGMENT", "DataError",
    "Record", "Segments", "WindowSet", "af_mask", "cross_database_split", "database_of", "database_records", "evaluation_windows", "load_cinc2017", "load_noise", "load_record",
    "measure_snr_db", "mitdb_records", "mix", "noise_part", "normalize", "resolve_data_dir", "rhythm_share_weights",
    "sample_pool_windows", "sample_training_windows", "segment_windows", "source_of", "split_records", "target", "to_adc",
]
