"""Pydantic models of the experiment config.

The models are the single source of truth: ranges and choices are field constraints and every
field has a description, so error messages, ``dmrun list`` and the config reference all read
from here. Every model forbids unknown keys and runs in strict mode, so ``"5"`` is not an int.
"""

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from dmrun.names import name_problem

MISSING_MARKERS = ["", "NA", "N/A", "NaN", "nan", "NULL", "null", "?"]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True)


# --- dataset -------------------------------------------------------------------------------


class SplitConfig(StrictModel):
    test_size: float = Field(0.2, gt=0, lt=1, description="Fraction of rows held out for the final test metrics.")
    val_size: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="Fraction of rows used for validation during training (0 disables it); "
        "trees default to 0 because they do not use it.",
    )
    stratify: bool = Field(True, description="Keep class proportions equal across splits (classification only).")
    shuffle: bool = Field(True, description="Shuffle rows before splitting; forecasting never shuffles.")
    group_by: str | None = Field(
        None,
        description="Column whose values keep rows together: all rows of one group land in the same split "
        "(for example one patient or one customer). Stratification does not apply.",
    )
    time_column: str | None = Field(
        None,
        description="Column that orders the rows in time. Rows are sorted by it and cut without shuffling: "
        "the oldest rows train, then validation, and the newest rows test.",
    )

    @model_validator(mode="after")
    def _check_sizes(self) -> "SplitConfig":
        if self.test_size + self.val_size >= 1:
            raise ValueError(
                f"test_size + val_size must be below 1 so rows remain for training, "
                f"got {self.test_size} + {self.val_size}"
            )
        if self.group_by is not None and self.time_column is not None:
            raise ValueError("give `group_by` or `time_column`, not both")
        return self


class BasketConfig(StrictModel):
    layout: Literal["auto", "lines", "long", "onehot", "quantity"] = Field(
        "auto",
        description="How a basket file holds transactions: `lines` (one transaction per line), `long` "
        "(one row per transaction id and item), `onehot` (one 0/1 or true/false column per item) or "
        "`quantity` (one column per item; a quantity above 0 means present, negative ones are reported). "
        "`auto` reads .csv/.tsv/.parquet tables as `long` when `transaction_column` is set, else as lines, "
        "and rejects a comma-separated file whose first lines look like a table with a header row.",
    )
    transaction_column: str | None = Field(
        None,
        description="Column with the transaction id: required for `long`; optional for `onehot` and `quantity`, "
        "where each row is one transaction.",
    )
    item_column: str = Field("item", description="Column with the item name in the `long` layout.")
    ignore_items: list[str] = Field(
        default_factory=list, description="Item names that mean no item, such as NONE; they are dropped and counted."
    )

    @model_validator(mode="after")
    def _check_long_layout(self) -> "BasketConfig":
        if self.layout == "long" and self.transaction_column is None:
            raise ValueError(
                "missing `transaction_column` for the long layout: name the column that holds the transaction id "
                "(--transaction-column for dmrun mine)"
            )
        return self


def checked_delimiter(value: str | None) -> str | None:
    """Return a field delimiter as one character (``\\t`` and ``tab`` mean a tab), or raise ValueError."""
    if value is None:
        return None
    if value in ("\\t", "tab"):
        return "\t"
    if len(value) != 1 or value in ('"', "\n", "\r"):
        raise ValueError(
            f"the delimiter must be one character other than a quote or a line break, such as , ; | or a tab "
            f"(written \\t or tab); got {value!r}"
        )
    return value


class DatasetConfig(StrictModel):
    name: str | None = Field(None, description="Built-in dataset name (see `dmrun list`). Give `name` or `path`.")
    path: str | None = Field(
        None, description="Data file, relative to the config file's folder. Give `name` or `path`."
    )
    format: Literal["auto", "csv", "tsv", "parquet", "jsonl", "arff", "npy", "npz", "idx", "xlsx", "basket"] = Field(
        "auto",
        description="File format. `auto` infers it from the file name: .csv .tsv .parquet .jsonl/.ndjson .arff "
        ".npy .npz, `-idx3-ubyte` (MNIST IDX, also .gz), .xlsx/.xlsm (Excel, needs `pip install 'dmrun[excel]'`) "
        "and .dat/.basket for baskets. `basket` reads "
        "transactions in the layout `baskets.layout` names; rule mining reads every file as baskets.",
    )
    sheet: Annotated[int, Field(ge=0)] | str | None = Field(
        None,
        description="Excel: the worksheet to read, by name or by 0-based index; default: the first sheet.",
    )
    labels: str | None = Field(
        None,
        description="IDX or .npy: the labels file that goes with the images or features file in `path`, "
        "relative to the config file's folder. Its values become the `label` column, the default target.",
    )
    arrays: list[str] | None = Field(
        None,
        min_length=1,
        max_length=2,
        description="npz: the array names to read, features first and then, optionally, labels. Default: "
        "the first present of X/x/data/x_train and of y/labels/target/y_train.",
    )
    baskets: BasketConfig = Field(default_factory=BasketConfig, description="Layout of basket data for rule mining.")
    target: str | None = Field(None, description="Target column: the label, regression value or series to forecast.")
    task: Literal["auto", "classification", "regression", "forecasting"] = Field(
        "auto",
        description="What the target means. `auto` picks classification for text, bool or few-valued integer "
        "targets and regression otherwise; forecasting must be set explicitly.",
    )
    encoding: str = Field(
        "utf-8",
        description="Text encoding of a CSV, TSV, basket, JSON Lines or ARFF file, such as utf-8 or gbk. A UTF-8 "
        "byte-order mark is removed. Other formats reject another encoding.",
    )
    decimal: Literal[".", ","] = Field(
        ".", description="Decimal separator of numbers in a CSV, TSV or basket file, such as `,` in 5,1."
    )
    delimiter: str | None = Field(
        None,
        description="Field delimiter of a CSV, TSV or basket file, one character (`\\t` or `tab` for a tab); "
        "detected from the first lines when not set (`,` `;` tab `|`).",
    )
    missing_values: list[str] = Field(
        default_factory=lambda: list(MISSING_MARKERS),
        description="Cell values read as missing, in addition to empty cells.",
    )
    header: bool = Field(
        True, description="Whether the first line of a CSV, TSV, basket table or Excel sheet names the columns."
    )
    skip_rows: int = Field(
        0, ge=0, description="Lines to skip at the start of a delimited text file, before the header, such as a title line."
    )
    columns: list[str] | None = Field(
        None,
        description="Column names for a table without a header line (header: false); "
        "default column_1, column_2, ...",
    )
    drop_columns: list[str] = Field(
        default_factory=list, description="Columns removed right after reading, such as row ids."
    )
    features: list[str] | None = Field(
        None,
        min_length=1,
        description="Feature columns to use; all others except the target are removed. Forecasting: the "
        "columns whose past values the network reads besides the target series.",
    )
    exclude: list[str] = Field(
        default_factory=list, description="Columns not to use as features; the target cannot be excluded."
    )
    sample: Annotated[int, Field(ge=1)] | Annotated[float, Field(gt=0, lt=1)] | None = Field(
        None,
        description="Use only a random sample of rows (transactions for basket data) for a quick run: a count such as 1000, or a "
        "fraction such as 0.1. Drawn with the experiment seed.",
    )
    split: SplitConfig = Field(default_factory=SplitConfig, description="How rows are split into train, validation and test.")

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        return checked_delimiter(value)

    @model_validator(mode="after")
    def _check_source(self) -> "DatasetConfig":
        if (self.name is None) == (self.path is None):
            raise ValueError("give exactly one of `name` (a built-in dataset) or `path` (a data file)")
        if self.columns is not None and self.header:
            raise ValueError("`columns` names the columns of a file without a header line; also set `header: false`")
        if self.features is not None and self.exclude:
            raise ValueError("give `features` (columns to keep) or `exclude` (columns to remove), not both")
        split_columns = [column for column in (self.split.group_by, self.split.time_column) if column]
        dropped = [column for column in split_columns if column in self.drop_columns]
        if dropped:
            raise ValueError(
                f"`drop_columns` lists {dropped[0]!r}, which `split` needs to split the rows. Remove it from "
                "`drop_columns`, because a split column never becomes a feature"
            )
        if self.skip_rows and self.name is not None:
            raise ValueError("`skip_rows` applies to data files; a built-in dataset has no lines to skip")
        if self.sheet is not None and not self._is_excel():
            raise ValueError(
                f"`sheet` applies to Excel workbooks only, and {self.path or self.name!r} is not one; "
                "remove `sheet`, or set `format: xlsx` for a workbook with another extension"
            )
        return self

    def _is_excel(self) -> bool:
        if self.format != "auto":
            return self.format == "xlsx"
        return self.path is not None and self.path.lower().endswith((".xlsx", ".xlsm"))


# --- preprocessing ---------------------------------------------------------------------------


class ImputeStep(StrictModel):
    step: Literal["impute"] = Field(..., description="Selects this preprocessing step.")
    strategy: Literal["mean", "median", "most_frequent", "constant"] = Field(
        "mean", description="How missing values are filled; mean and median apply to numeric columns only."
    )
    fill_value: float | str | None = Field(None, description="Value used by the `constant` strategy.")
    columns: list[str] | None = Field(
        None,
        description="Columns to impute; default: the columns the strategy applies to that have missing values "
        "in the data file (in any split; the fill values come from the training split). List columns here "
        "to also fill values missing only in new data given to `dmrun predict`.",
    )


class ScaleStep(StrictModel):
    step: Literal["scale"] = Field(..., description="Selects this preprocessing step.")
    method: Literal["standard", "minmax", "robust"] = Field("standard", description="Scaler to fit on the training split.")
    columns: list[str] | None = Field(None, description="Columns to scale; default: every numeric column.")


class OneHotStep(StrictModel):
    step: Literal["onehot"] = Field(..., description="Selects this preprocessing step.")
    columns: list[str] | None = Field(None, description="Columns to encode; default: every text column, except one whose values are at least 90% numbers.")
    drop_first: bool = Field(False, description="Drop the first category of each column.")


class DropStep(StrictModel):
    step: Literal["drop"] = Field(..., description="Selects this preprocessing step.")
    columns: list[str] = Field(..., min_length=1, description="Feature columns to remove.")


class SelectStep(StrictModel):
    step: Literal["select"] = Field(..., description="Selects this preprocessing step.")
    columns: list[str] = Field(..., min_length=1, description="Feature columns to keep; all others are removed.")


class OrdinalStep(StrictModel):
    step: Literal["ordinal"] = Field(..., description="Selects this preprocessing step.")
    columns: list[str] | None = Field(None, description="Columns to encode; default: every text column, except one whose values are at least 90% numbers.")
    unknown_value: int = Field(
        -1, description="Code given to a category not seen in training, and to a missing value."
    )


class DropConstantStep(StrictModel):
    step: Literal["drop_constant"] = Field(..., description="Selects this preprocessing step.")
    columns: list[str] | None = Field(
        None, description="Columns to check; default: every column. A column with one value in training is removed."
    )


class PCAStep(StrictModel):
    step: Literal["pca"] = Field(..., description="Selects this preprocessing step.")
    n_components: Annotated[int, Field(ge=1)] | Annotated[float, Field(gt=0, lt=1)] = Field(
        2,
        description="Components to keep: a count, or a fraction of variance to explain such as 0.95.",
    )
    columns: list[str] | None = Field(
        None, description="Numeric columns to project; default: every numeric column. They become pca0, pca1, ..."
    )
    whiten: bool = Field(False, description="Scale the components to unit variance.")


class DiscretiseStep(StrictModel):
    step: Literal["discretise"] = Field(..., description="Selects this preprocessing step.")
    n_bins: int = Field(5, ge=2, description="Bins per column.")
    strategy: Literal["quantile", "uniform", "kmeans"] = Field(
        "quantile", description="How bin edges are placed: equal counts, equal widths, or k-means centres."
    )
    columns: list[str] | None = Field(
        None,
        description="Numeric columns to bin; default: every numeric column. Each value becomes its bin number "
        "0..n_bins-1; rule mining turns it into the item `column=[low, high)`.",
    )


class LogStep(StrictModel):
    step: Literal["log"] = Field(..., description="Selects this preprocessing step.")
    columns: list[str] | None = Field(None, description="Numeric columns to transform; default: every numeric column.")
    shift: float = Field(
        0.0,
        description="Added to every value before log1p. A value below -1 after the shift is a data error "
        "that names the column; set a shift to accept such values.",
    )


class ClipStep(StrictModel):
    step: Literal["clip"] = Field(..., description="Selects this preprocessing step.")
    columns: list[str] | None = Field(None, description="Numeric columns to clip; default: every numeric column.")
    lower_quantile: float | None = Field(
        0.01, ge=0, le=1, description="Lower bound as a quantile of the training values; ignored when `lower` is set."
    )
    upper_quantile: float | None = Field(
        0.99, ge=0, le=1, description="Upper bound as a quantile of the training values; ignored when `upper` is set."
    )
    lower: float | None = Field(None, description="Fixed lower bound.")
    upper: float | None = Field(None, description="Fixed upper bound.")

    @model_validator(mode="after")
    def _check_bounds(self) -> "ClipStep":
        low = self.lower_quantile if self.lower_quantile is not None else 0.0
        high = self.upper_quantile if self.upper_quantile is not None else 1.0
        if low >= high:
            raise ValueError(f"lower_quantile ({low}) must be below upper_quantile ({high})")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"lower ({self.lower}) must not exceed upper ({self.upper})")
        return self


PreprocessStep = Annotated[
    Union[
        ImputeStep,
        ScaleStep,
        OneHotStep,
        OrdinalStep,
        DropStep,
        DropConstantStep,
        SelectStep,
        PCAStep,
        DiscretiseStep,
        LogStep,
        ClipStep,
    ],
    Field(discriminator="step"),
]

# Steps that apply to a table mined for rules: they choose columns or turn numbers into bins.
MINING_STEPS = ("discretise", "drop", "drop_constant", "select")


# --- models ----------------------------------------------------------------------------------


class MLPConfig(StrictModel):
    type: Literal["mlp", "nn"] = Field(..., description="Selects this algorithm.")
    hidden_sizes: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: [128, 64], description="Units of each hidden layer, input side first."
    )
    activation: Literal["relu", "tanh", "gelu"] = Field("relu", description="Activation after each hidden layer.")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout probability after each hidden layer.")


class CNNConfig(StrictModel):
    type: Literal["cnn"] = Field(..., description="Selects this algorithm.")
    input_shape: list[Annotated[int, Field(ge=1)]] | None = Field(
        None,
        min_length=3,
        max_length=3,
        description="Image shape as [channels, height, width]; each row's features are read in that order. "
        "Built-in image datasets set it.",
    )
    channels: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: [32, 64], description="Output channels of each convolution block."
    )
    kernel_size: int = Field(3, ge=1, le=15, description="Convolution kernel size in pixels.")
    hidden_size: int = Field(128, ge=1, description="Units of the dense layer before the output.")
    dropout: float = Field(0.25, ge=0, lt=1, description="Dropout probability before the dense layers.")


class RNNConfig(StrictModel):
    type: Literal["rnn"] = Field(..., description="Selects this algorithm.")
    cell: Literal["lstm", "gru", "rnn"] = Field("lstm", description="Recurrent cell.")
    hidden_size: int = Field(64, ge=1, description="Units of the recurrent state.")
    num_layers: int = Field(1, ge=1, le=8, description="Stacked recurrent layers.")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout between stacked layers.")
    bidirectional: bool = Field(False, description="Read sequences in both directions (classification and regression).")
    window: int = Field(12, ge=1, description="Forecasting: past time steps the network reads for each forecast.")
    horizon: int = Field(
        1,
        ge=1,
        description="Forecasting: future values predicted from each window; the network outputs one value "
        "per step, and metrics are reported per step and over all steps.",
    )
    sequence_shape: list[Annotated[int, Field(ge=1)]] | None = Field(
        None,
        min_length=2,
        max_length=2,
        description="Classification and regression: each row's features read as [steps, features per step]. "
        "Built-in image datasets set it (one image row per step).",
    )


class KMeansConfig(StrictModel):
    type: Literal["kmeans"] = Field(..., description="Selects this algorithm.")
    engine: Literal["sklearn", "spark"] = Field(
        "sklearn",
        description="`sklearn` clusters in memory with scikit-learn; `spark` clusters with Apache Spark MLlib "
        "(k-means|| initialisation for `k-means++`), reading the data with Spark (see the `spark` section).",
    )
    n_clusters: int = Field(8, ge=1, description="Number of clusters.")
    init: Literal["k-means++", "random"] = Field("k-means++", description="Initialisation method.")
    n_init: int = Field(10, ge=1, description="Runs with different centroid seeds; the best one is kept.")
    max_iter: int = Field(300, ge=1, description="Maximum iterations of one run.")
    tol: float = Field(
        1e-4,
        ge=0,
        description="Tolerance on the centre shift that declares convergence: relative to the data's variance "
        "on sklearn, an absolute distance on spark.",
    )


class TreeConfig(StrictModel):
    type: Literal["tree"] = Field(..., description="Selects this algorithm.")
    engine: Literal["sklearn", "spark"] = Field(
        "sklearn",
        description="`sklearn` trains in memory with scikit-learn; `spark` trains MLlib's DecisionTreeClassifier "
        "or DecisionTreeRegressor, reading the data with Spark (see the `spark` section).",
    )
    criterion: Literal["auto", "gini", "entropy", "log_loss", "squared_error", "absolute_error", "friedman_mse"] = (
        Field("auto", description="Split quality measure; `auto` is gini for classification, squared_error for regression.")
    )
    max_depth: int | None = Field(
        None, ge=1, description="Maximum depth; unlimited when not set (on spark: at most 30, MLlib's limit)."
    )
    min_samples_split: int = Field(2, ge=2, description="Minimum rows in a node to split it.")
    min_samples_leaf: int = Field(1, ge=1, description="Minimum rows in each leaf.")
    max_leaf_nodes: int | None = Field(None, ge=2, description="Maximum number of leaves; unlimited when not set.")
    ccp_alpha: float = Field(0.0, ge=0, description="Cost-complexity pruning strength.")
    class_weight: Literal["balanced"] | None = Field(None, description="`balanced` weights classes by inverse frequency.")


RuleMetric = Literal[
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
    "zhangs_metric",
    "jaccard",
    "certainty",
    "kulczynski",
    "representativity",
]

# Largest value of each bounded rule measure. Lift and conviction have no upper bound.
MEASURE_MAXIMUM = {
    "support": 1.0,
    "confidence": 1.0,
    "jaccard": 1.0,
    "kulczynski": 1.0,
    "representativity": 1.0,
    "leverage": 0.25,
    "zhangs_metric": 1.0,
    "certainty": 1.0,
}


class RulesConfig(StrictModel):
    type: Literal["rules"] = Field(..., description="Selects this algorithm.")
    algorithm: Literal["apriori", "fpgrowth", "fpmax"] = Field(
        "fpgrowth",
        description="Frequent itemset algorithm. fpmax finds maximal itemsets only, so it needs "
        "`output: itemsets`.",
    )
    engine: Literal["fim", "mlxtend", "spark"] = Field(
        "fim",
        description="`fim` mines with Christian Borgelt's C implementations (pyfim) and generates rules with "
        "vectorised NumPy; `mlxtend` uses mlxtend's Python implementations; `spark` mines with Apache Spark "
        "MLlib's FPGrowth and generates the rules like `fim`. All give the same itemsets, rules and measures.",
    )
    output: Literal["rules", "itemsets"] = Field(
        "rules", description="`rules` mines itemsets and then rules; `itemsets` stops after the itemsets."
    )
    min_support: float = Field(
        0.1, gt=0, le=1, description="Minimum support as a fraction of transactions, in (0, 1]."
    )
    min_count: int | None = Field(
        None,
        ge=1,
        description="Minimum support as a number of transactions; replaces `min_support` when set.",
    )
    metric: RuleMetric = Field("confidence", description="Rule measure that `min_threshold` applies to.")
    min_threshold: float = Field(
        0.5,
        description="Minimum value of `metric` for a rule to be kept. It may not exceed the measure's largest "
        "value: 1 for support, confidence, jaccard, kulczynski, representativity, zhangs_metric and certainty, "
        "0.25 for leverage.",
    )
    max_len: int | None = Field(None, ge=1, description="Maximum items in an itemset; unlimited when not set.")
    top: int = Field(10, ge=0, description="Rules shown in the summary, best first by `sort_by`.")
    sort_by: RuleMetric = Field("lift", description="Measure that orders the rules in the files and the summary.")
    max_itemsets: int = Field(
        5_000_000,
        ge=1,
        description="Mining is rejected before it starts when a lower bound on the itemset count exceeds this.",
    )

    max_rules: int = Field(
        50_000_000,
        ge=1,
        description="Rule generation is rejected before it starts when the itemsets allow more candidate "
        "rules than this (an itemset of k items gives 2^k - 2).",
    )
    memory_budget_mb: int | None = Field(
        None,
        ge=64,
        description="Memory the fim engine may use to mine itemsets, in MB (at least 64); mining that passes it is stopped "
        "with an error, and rule generation estimated to pass it is rejected before it starts. Default: half "
        "of the machine's memory.",
    )
    json_limit: int = Field(
        200_000,
        ge=0,
        description="`itemsets.json` and `rules.json` are written only when they hold at most this many records; "
        "the CSV files always hold every record.",
    )

    @field_validator("min_threshold")
    @classmethod
    def _check_threshold(cls, value: float, info: ValidationInfo) -> float:
        metric = info.data.get("metric", "confidence")
        if value != value:
            raise ValueError("not a number; give a threshold such as 0.5")
        largest = MEASURE_MAXIMUM.get(metric)
        if largest is not None and value > largest:
            raise ValueError(f"{value:g} is above {largest:g}, the largest {metric}, so no rule could be kept")
        return value

    @model_validator(mode="after")
    def _check_algorithm(self) -> "RulesConfig":
        if self.min_count is not None and "min_support" in self.model_fields_set:
            raise ValueError("give `min_support` (a fraction) or `min_count` (a number of transactions), not both")
        if self.algorithm == "fpmax" and self.output == "rules":
            raise ValueError(
                "algorithm 'fpmax' finds maximal itemsets only, and rules need the support of every subset; "
                "use fpgrowth or apriori for rules, or set output: itemsets"
            )
        return self


ModelConfig = Annotated[
    Union[MLPConfig, CNNConfig, RNNConfig, KMeansConfig, TreeConfig, RulesConfig], Field(discriminator="type")
]

TORCH_MODELS = ("mlp", "nn", "cnn", "rnn")


# --- training (torch models) -----------------------------------------------------------------


class OptimizerConfig(StrictModel):
    name: Literal["adam", "adamw", "sgd"] = Field("adam", description="Optimizer.")
    lr: float = Field(1e-3, gt=0, description="Learning rate.")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum; ignored by adam and adamw.")
    weight_decay: float = Field(0.0, ge=0, description="L2 penalty (decoupled for adamw).")
    eps: float = Field(1e-8, gt=0, description="Term added to the denominator by adam and adamw.")


class EarlyStoppingConfig(StrictModel):
    metric: Literal["val_loss", "val_accuracy", "val_f1_macro", "val_rmse", "val_mae"] = Field(
        "val_loss",
        description="Validation metric to watch: val_loss, val_accuracy or val_f1_macro for classification; "
        "val_loss, val_rmse or val_mae for regression and forecasting.",
    )
    patience: int = Field(5, ge=1, description="Epochs without improvement before training stops.")
    min_delta: float = Field(0.0, ge=0, description="Smallest change that counts as an improvement.")


class TrainConfig(StrictModel):
    epochs: int = Field(10, ge=1, description="Passes over the training split.")
    batch_size: int = Field(
        64, ge=1, description="Rows per optimisation step; under torchrun the global batch, shared equally by the ranks."
    )
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig, description="Optimizer settings.")
    loss: Literal["auto", "cross_entropy", "mse"] = Field(
        "auto", description="`auto` is cross_entropy for classification and mse otherwise."
    )
    early_stopping: EarlyStoppingConfig | None = Field(
        None, description="Stop when a validation metric stops improving; the best epoch's weights are kept."
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="`auto` uses CUDA when available.")


# --- sweeps ----------------------------------------------------------------------------------


class SweepConfig(StrictModel):
    grid: dict[str, list[Any]] = Field(
        ...,
        description="Values to try per dotted key, such as `{model.n_clusters: [2, 3, 4]}`; "
        "`dmrun sweep` runs every combination. Keys and values are checked like `--set`.",
    )
    metric: str | None = Field(
        None, description="Metric that ranks the trials; defaults to the main metric shown by `dmrun runs list`."
    )
    goal: Literal["max", "min"] | None = Field(
        None, description="Whether a higher or a lower `metric` is better; defaults by metric (min for errors)."
    )


# --- whole config ----------------------------------------------------------------------------


class ReportConfig(StrictModel):
    plots: bool = Field(
        True,
        description="Draw the algorithm's plots into artifacts/plots/ after a successful run "
        "(learning curves, confusion matrix, clusters, rules, ...). A plot that fails is logged and skipped.",
    )


class SparkConfig(StrictModel):
    master: str | None = Field(
        None,
        description="Spark master URL, passed to Spark unchanged: `local[*]`, `local[4]`, `spark://host:7077`, "
        "`yarn`, `k8s://https://host:443`. Default: the DMRUN_SPARK_MASTER environment variable, then "
        "SPARK_MASTER, then `local[*]`.",
    )
    driver_memory: str | None = Field(
        None,
        pattern=r"^[0-9]+[kmgtKMGT]?$",
        description="Memory of the Spark driver, such as `4g` (`spark.driver.memory`). It applies only when "
        "dmrun starts the driver JVM, not under spark-submit.",
    )
    conf: dict[str, str] = Field(
        default_factory=dict,
        description="Other Spark settings, such as `{spark.executor.memory: 8g, spark.sql.shuffle.partitions: "
        "'64'}`; values are strings.",
    )




class ExperimentConfig(StrictModel):
    name: str = Field(
        "experiment",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Run name used in the run folder name: letters, digits, `.`, `_` and `-`, starting with a "
        "letter or digit, without `..`, at most 64 characters. Defaults to the config file name.",
    )
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Seed for Python, NumPy, torch and scikit-learn.")
    dataset: DatasetConfig = Field(..., description="Where the data comes from and how it is split.")
    preprocess: list[PreprocessStep] = Field(
        default_factory=list, description="Steps applied in order, fitted on the training split only."
    )
    model: ModelConfig = Field(..., description="Algorithm and its hyperparameters; `type` selects the algorithm.")
    train: TrainConfig = Field(default_factory=TrainConfig, description="Training loop of mlp, cnn and rnn.")
    sweep: SweepConfig | None = Field(
        None,
        description="Grid for `dmrun sweep`. `dmrun train` ignores it with a warning and trains the config as written.",
    )
    report: ReportConfig = Field(default_factory=ReportConfig, description="Plots made after the run.")
    spark: SparkConfig | None = Field(
        None,
        description="Where and how Spark runs, for models with `engine: spark`; optional even then.",
    )

    @property
    def engine(self) -> str | None:
        """Return the model's engine (`sklearn`, `fim`, `spark`, ...), or ``None`` for torch models."""
        return getattr(self.model, "engine", None)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        problem = name_problem(value)
        if problem is not None:
            raise ValueError(f"invalid run name {value!r}: {problem}")
        return value

    @model_validator(mode="after")
    def _check_sections(self) -> "ExperimentConfig":
        split = self.dataset.split
        if self.model.type == "tree" and "val_size" not in split.model_fields_set:
            # A tree has no use for a validation split, so its rows go to training unless asked.
            split.val_size = 0.0
        if "train" in self.model_fields_set and self.model.type not in TORCH_MODELS:
            raise ValueError(f"the `train` section applies to mlp, cnn and rnn models, not to `{self.model.type}`")
        if self.spark is not None and self.engine != "spark":
            raise ValueError(
                f"the `spark` section applies to models with `engine: spark`, and model `{self.model.type}` "
                f"runs on {self.engine or 'torch'}"
            )
        if self.model.type == "rules":
            other = [step.step for step in self.preprocess if step.step not in MINING_STEPS]
            if other:
                raise ValueError(
                    f"rules mine transactions; only the steps {', '.join(MINING_STEPS)} apply to a table "
                    f"mined for rules, not {', '.join(other)}"
                )
        return self
