"""Preprocessing in TF ops, shared by the pipelines, the models and the export."""

from mmzoo.preprocessing.log_mel import LogMelSpectrogram

__all__ = ["LogMelSpectrogram"]
