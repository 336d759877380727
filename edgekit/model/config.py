"""The ACDAE's shape (ACDAEConfig) and the training recipe (TrainConfig): plain dataclasses without
torch, so the command line can show their defaults in --help before torch is imported. The model
(acdae.py) and the training loop (train.py) re-export them; their comments explain the values.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

INPUT_SCALE = 1.0 / 128.0  # int8 input q means q/128 in model units


@dataclass
class ACDAEConfig:
    in_channels: int = 2
    window: int = 1024
    # 6 levels: each of the 16 bottleneck samples sees 1 + 14 * 63 = 883 input samples (2.45 s) of
    # the 2.84 s window; 4 levels scored ~0.8 dB lower at 0 dB (512-sample windows). Levels 1-4 stay
    # narrow: their outputs are the skips that are alive together and set the arena (twice the
    # 13.9 KB of the 512-sample model).
    widths: tuple[int, ...] = (16, 32, 40, 40, 64, 64)
    kernel: int = 15
    strides: tuple[int, ...] = (2, 2, 2, 2, 2, 2)
    dec_kernel: int = 16
    eca_kernel: int = 3
    head_hidden: int = 16
    n_classes: int = 2
    leaky_slope: float = 0.125  # 1/8: the negative multiplier stays well inside int32 range
    # the input is the outermost skip: the decoder learns the correction. Without it (--no-residual)
    # int8 gained ~0.2 dB at 0 dB but clean windows lost ~1 dB (docs/experiments.md, "Without the input skip")
    residual: bool = True
    refine: int = 0  # extra stride-1 Conv1d + LeakyReLU per level (encoder, and decoder after the skip)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ACDAEConfig":
        d = dict(d)
        d["widths"], d["strides"] = tuple(d["widths"]), tuple(d["strides"])
        return cls(**d)

    def check(self) -> None:
        if len(self.widths) != len(self.strides):
            raise ValueError(f"widths {self.widths} and strides {self.strides} need one entry per level")
        total = 1
        for s in self.strides:
            total *= s
        if self.window % total:
            raise ValueError(f"window {self.window} must be divisible by the product of strides {total}")
        if self.kernel % 2 == 0:
            raise ValueError(f"kernel {self.kernel} must be odd (the encoder pads (k-1)/2 on each side)")
        if self.refine < 0:
            raise ValueError(f"refine {self.refine} must be >= 0")


@dataclass
class TrainConfig:
    float_epochs: int = 18
    qat_epochs: int = 8  # 4 left int8 0.61 dB from float at 24 dB, 12 lowered onnxruntime agreement (docs/experiments.md)
    freeze_epochs: int = 1  # last QAT epochs run with frozen activation ranges
    windows_per_epoch: int = 40_000  # x 1024 samples: the 80k x 512 of the 512-sample model
    batch: int = 64
    lr: float = 2e-3
    qat_lr: float = 2e-4
    af_weight: float = 0.3  # weight of the AF cross-entropy next to the denoising MSE
    af_min_snr_db: float = 6.0  # AF is learned only where the rhythm is still visible
    # input SNRs drawn (uniformly) for the training windows; -6..12 raised 0 dB in short runs but
    # not after full training, and cost 7 dB at 24 dB (docs/experiments.md)
    snr_range: tuple[float, float] = (-6.0, 24.0)
    weight_decay: float = 0.0  # decoupled (AdamW); 0 = plain Adam
    # share of each QAT epoch's windows drawn at high_snr_range(snr_range): keeps int8 near float on
    # nearly clean windows (0 left a 0.93 dB gap at 24 dB; docs/experiments.md)
    qat_high_snr_fraction: float = 0.25
    # QAT learns the activation ranges by gradient (LSQ) after the EMA calibration, instead of
    # tracking each batch's min/max
    learn_ranges: bool = False
    # which ranges learn_ranges trains: "all", or "decoder" (ACDAE.DECODER; the encoder, ECA and
    # head keep EMA ranges)
    learn_ranges_in: str = "all"
    seed: int = 0
    threads: int = 2
    model: dict = field(default_factory=lambda: ACDAEConfig().to_dict())
    augment: dict = field(default_factory=dict)  # data.augment.Augment fields; {} = none


LEARN_RANGES_IN = ("all", "decoder")
