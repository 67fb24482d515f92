"""Generate the Markdown config reference from the schema (``python -m dmrun.config.reference``)."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from dmrun.config import schema

SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("top level", schema.ExperimentConfig),
    ("dataset", schema.DatasetConfig),
    ("dataset.split", schema.SplitConfig),
    ("dataset.baskets", schema.BasketConfig),
    ("preprocess: impute", schema.ImputeStep),
    ("preprocess: scale", schema.ScaleStep),
    ("preprocess: onehot", schema.OneHotStep),
    ("preprocess: ordinal", schema.OrdinalStep),
    ("preprocess: drop", schema.DropStep),
    ("preprocess: drop_constant", schema.DropConstantStep),
    ("preprocess: select", schema.SelectStep),
    ("preprocess: pca", schema.PCAStep),
    ("preprocess: discretise", schema.DiscretiseStep),
    ("preprocess: log", schema.LogStep),
    ("preprocess: clip", schema.ClipStep),
    ("model: mlp (alias nn)", schema.MLPConfig),
    ("model: cnn", schema.CNNConfig),
    ("model: rnn", schema.RNNConfig),
    ("model: kmeans", schema.KMeansConfig),
    ("model: tree", schema.TreeConfig),
    ("model: rules", schema.RulesConfig),
    ("train (mlp, cnn, rnn)", schema.TrainConfig),
    ("train.optimizer", schema.OptimizerConfig),
    ("train.early_stopping", schema.EarlyStoppingConfig),
    ("sweep (dmrun sweep only)", schema.SweepConfig),
    ("report", schema.ReportConfig),
    ("spark (models with engine: spark)", schema.SparkConfig),
]


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{value}`" for value in args)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (list, tuple):
        return f"list of {_type_name(args[0])}" if args else "list"
    if args and (origin is typing.Union or str(origin) == "<class 'types.UnionType'>"):
        models = [arg for arg in args if isinstance(arg, type) and issubclass(arg, BaseModel)]
        if len(models) > 1:
            key = "step" if "step" in models[0].model_fields else "type"
            return f"section chosen by `{key}`"
        names = [_type_name(arg) for arg in args if arg is not type(None)]
        text = " or ".join(names)
        return text + (" or null" if type(None) in args else "")
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: Any) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()
        if isinstance(value, BaseModel):
            return "see section"
        return f"`{value}`"
    if isinstance(field.default, bool):
        return f"`{str(field.default).lower()}`"
    return f"`{field.default}`" if field.default is not None else "not set"


def render() -> str:
    lines = [
        "# Config reference",
        "",
        "Generated from `dmrun/config/schema.py` by `python -m dmrun.config.reference`; do not edit by hand.",
        "Every section rejects unknown keys, and values are not converted between types (`\"5\"` is not a number).",
        "YAML is read with YAML 1.2 rules: `1e-3` is a number, `yes`/`no` are text, `010` is ten.",
        "",
    ]
    for title, model in SECTIONS:
        lines += [f"## {title}", "", "| key | type | default | description |", "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            description = (field.description or "").replace("|", "\\|")
            lines.append(f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | {description} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
