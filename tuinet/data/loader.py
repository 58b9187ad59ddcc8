"""`load`: the one entry point presets use for any data source."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

from tuinet.data.dataset import Dataset
from tuinet.data.files import SUPPORTED_SUFFIXES, display_path, load_file
from tuinet.data.generators import GENERATOR_ALIASES, GENERATORS, canonical, get_generator
from tuinet.data.shipped import DATASET_ALIASES, DATASETS, dataset_key, load_dataset
from tuinet.errors import ConfigError, DataError, did_you_mean
from tuinet.paths import user_path


def _looks_like_path(source: str) -> bool:
    return "/" in source or "\\" in source or os.sep in source or bool(Path(source).suffix)


def _check_options(what: str, func, options: dict, skip: tuple[str, ...] = ()) -> None:
    accepted = [p.name for p in inspect.signature(func).parameters.values()
                if p.name not in skip and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for key in options:
        if key not in accepted:
            choices = f"options: {', '.join(accepted)}" if accepted else "it takes no options"
            raise ConfigError(f"{what}: unknown option {key!r}{did_you_mean(key, accepted)}; {choices}")


def load(source: str | os.PathLike, *, samples: int | None = None, noise: float | None = None, seed: int | None = 0,
         base_dir: str | os.PathLike | None = None, **options) -> Dataset:
    """Load data from a generator name, a shipped data set name or a file path.

    Args:
        source: A generator ("spiral", "circle", "regression_plane"...), a shipped data set
            ("iris", "digits"...) or a path to a .csv, .tsv, .npz or .npy file.
        samples: Generators only: number of samples (the generator's default when None).
        noise: Generators only: noise level (0 when None).
        seed: Generators only: seed of the random generator.
        base_dir: Folder that relative file paths are resolved against (the preset's folder).
        **options: Passed on: `steps` for "sine", `as_images` for image data sets, `target`,
            `header`, `delimiter`, `task` for CSV files, `task` for NPZ/NPY files.

    Returns:
        The Dataset.

    Raises:
        DataError: for an unknown name (with the valid names and a suggestion), a file that
            cannot be read, or `samples`/`noise` given for a file or a shipped data set.
        ConfigError: for an option the source does not take.
    """
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if not isinstance(source, str) or not source.strip():
        raise ConfigError(f"data source: expected a generator name, a data set name or a file path, got {source!r}")

    generator = get_generator(source)
    if generator is not None:
        name = generator.__name__
        _check_options(f"generator {name!r}", generator, options, skip=("samples", "noise", "seed"))
        kwargs = dict(options, seed=seed)
        if samples is not None:
            kwargs["samples"] = samples
        if noise is not None:
            kwargs["noise"] = noise
        return generator(**kwargs)

    key = dataset_key(source)
    not_generated = [k for k, v in (("samples", samples), ("noise", noise)) if v is not None]
    if key is not None:
        if not_generated:
            raise DataError(f"data set {key!r}: {' and '.join(not_generated)} apply only to generated data "
                            f"({', '.join(GENERATORS)}); the shipped data sets have a fixed size")
        _check_options(f"data set {key!r}", load_dataset, options, skip=("name",))
        return load_dataset(key, **options)

    if _looks_like_path(source):
        path = user_path(source, what="data source", error=DataError)  # ~ and ~user expanded
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        if not_generated:
            raise DataError(f"{display_path(path)}: {' and '.join(not_generated)} apply only to generated data "
                            f"({', '.join(GENERATORS)}), not to a file")
        if not path.exists():
            looked = f" (looked for {path.resolve()})" if str(path) != source or not path.is_absolute() else ""
            raise DataError(f"{source}: file not found{looked}")
        return load_file(path, **options)

    names = list(GENERATORS) + list(GENERATOR_ALIASES) + list(DATASETS) + list(DATASET_ALIASES)
    raise DataError(f"unknown data source {source!r}{did_you_mean(canonical(source), names)}; expected a generator "
                    f"({', '.join(GENERATORS)}), a shipped data set ({', '.join(DATASETS)}) or a path to a "
                    f"{', '.join(SUPPORTED_SUFFIXES)} file")
