//! The errors of training, evaluation and data loading. Each message names the problem.

/// What went wrong, in terms of the caller's data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The inputs and labels differ in length.
    #[error("x has {x} samples but y has {y} labels; they must be the same length")]
    LengthMismatch {
        /// Samples in x.
        x: usize,
        /// Labels in y.
        y: usize,
    },
    /// No samples were given.
    #[error("{what} is empty; at least one sample is needed")]
    EmptyData {
        /// Which data set.
        what: &'static str,
    },
    /// A label the loss cannot use.
    #[error("bad label at index {index} of {what}: {message}")]
    BadLabel {
        /// Which data set.
        what: &'static str,
        /// Position of the label.
        index: usize,
        /// What is wrong with it.
        message: String,
    },
    /// An input sample with a NaN or infinite value.
    #[error("input sample {index} of {what} contains a non-finite value ({value})")]
    NonFiniteInput {
        /// Which data set.
        what: &'static str,
        /// Position of the sample.
        index: usize,
        /// The offending value.
        value: f32,
    },
    /// `batch_size` was zero.
    #[error("batch_size must be at least 1")]
    ZeroBatchSize,
    /// `validation_split` outside [0, 1), or leaving no data on one side.
    #[error(
        "validation_split must be in [0, 1) and leave samples on both sides; got {split} for {samples} samples"
    )]
    BadValidationSplit {
        /// The split asked for.
        split: f32,
        /// Samples available.
        samples: usize,
    },
    /// The loss became NaN or infinite; training stopped before applying that batch, so the
    /// network keeps the weights of the last good step.
    #[error(
        "loss became {loss} at epoch {epoch}, batch {batch}; training stopped and the weights of the last good step were kept"
    )]
    NonFiniteLoss {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch within the epoch.
        batch: usize,
        /// The loss (or NaN when only a gradient was non-finite).
        loss: f32,
    },
    /// A step whose gradient, or whose update of the weights or of the optimizer's state, was
    /// NaN or infinite although the loss was finite (a learning rate too large for the data,
    /// inputs near `f32::MAX`, an optimizer state restored from a hostile checkpoint). The step
    /// was refused: the weights and the optimizer's state are those of the last good step.
    #[error(
        "step refused at epoch {epoch}, batch {batch}: {reason}; training stopped and the weights and \
         optimizer state of the last good step were kept"
    )]
    NonFiniteStep {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch within the epoch.
        batch: usize,
        /// What was not finite, and where.
        reason: String,
    },
    /// An optimizer hyperparameter or a [`Clip`](crate::optim::Clip) bound out of its range
    /// (a NaN or negative learning rate, `beta_1 = 1`, …); the message names it.
    #[error("{0}")]
    BadHyperparameter(String),
    /// An optimizer state that [`Optimizer::load_state`](crate::optim::Optimizer::load_state)
    /// refused; the message names the buffer or counter.
    #[error("optimizer state: {0}")]
    BadOptimizerState(String),
    /// Sample or class weights that cannot weight the data: too few or too many, negative,
    /// not finite, or all 0.
    #[error("{what}: {message}")]
    BadWeights {
        /// The option (`sample_weight`, `class_weight`).
        what: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A callback's option out of its range, or a callback that cannot work with this training
    /// (a `monitor` the logs do not hold, `ReduceLROnPlateau` on a scheduled optimizer, …);
    /// the message names the callback and the option.
    #[error("{0}")]
    BadCallback(String),
    /// `initial_epoch` past `epochs`: `fit` runs epochs `initial_epoch + 1 ..= epochs`.
    #[error(
        "initial_epoch {initial_epoch} is past epochs {epochs}: fit runs epochs initial_epoch + 1 ..= epochs \
         (epochs counts from the start of the whole training, as in Keras)"
    )]
    InitialEpochPastEpochs {
        /// The epochs already done.
        initial_epoch: usize,
        /// The epoch to end at.
        epochs: usize,
    },
    /// A [`Parallel`](crate::train::Parallel) setting with no shards.
    #[error("Parallel::shards must be at least 1")]
    ZeroShards,
    /// Sharded training of a network with moving statistics, which each shard would compute on
    /// its own part of the batch.
    #[error(
        "network `{network}` has BatchNormalization, whose batch statistics would differ per shard; \
         train it with Parallel::new(1) (one shard)"
    )]
    ShardedBatchStatistics {
        /// The network's name.
        network: &'static str,
    },
    /// The thread pool a [`Parallel`](crate::train::Parallel) setting asks for could not start.
    #[error("could not start a pool of {threads} training threads: {message}")]
    ThreadPool {
        /// Threads asked for.
        threads: usize,
        /// The system's reason.
        message: String,
    },
    /// Token ids that do not fit the network's sequence length or vocabulary.
    #[error(transparent)]
    Token(#[from] crate::tokens::TokenError),
    /// A metric that cannot be computed: an option that does not fit it, a loss or output it
    /// does not fit, a name taken twice, or a batch it cannot take.
    #[error("metric `{metric}`: {message}")]
    BadMetric {
        /// The metric's name.
        metric: String,
        /// What is wrong.
        message: String,
    },
    /// A history without epochs, asked for a file or a picture.
    #[error("the history holds no epochs, so there is nothing to {what}")]
    EmptyHistory {
        /// `"write"` or `"draw"`.
        what: &'static str,
    },
    /// Drawing or encoding a picture of a history failed.
    #[error("could not draw the history: {0}")]
    Plot(String),
    /// A class outside a [`ConfusionMatrix`](crate::metrics::ConfusionMatrix)'s range.
    #[error(transparent)]
    ClassOutOfRange(#[from] crate::metrics::ClassOutOfRange),
    /// A token that a vocabulary file could not hold (empty, holding whitespace, or too long),
    /// given to [`TextVectorizer::fit_tokens`](crate::data::text::TextVectorizer::fit_tokens).
    #[error("token {index} {token}: {reason}")]
    UnsavableToken {
        /// Its position among the tokens given.
        index: usize,
        /// The token, quoted and cut to 40 characters.
        token: String,
        /// Why it cannot be saved.
        reason: String,
    },
    /// An option of `fit` that cannot work with the data given (`validation_split` of a
    /// stream, `shuffle` of a stream without a shuffle buffer, …); the message says why and
    /// what to do instead.
    #[error("{option}: {message}")]
    BadOption {
        /// The option, as `Fit` names it.
        option: &'static str,
        /// Why, and what to do instead.
        message: String,
    },
    /// Reading a stream of samples ([`Source`](crate::data::stream::Source)) failed, or it gave
    /// a sample that cannot be used (a bad label, a non-finite input, a count other than it
    /// declared). Training stops at once, keeping the weights of the last good step.
    #[error("reading `{name}` failed after {read} samples{}: {cause}{}", of_epoch(.epoch), kept(.epoch))]
    Stream {
        /// The source ([`Source::name`](crate::data::stream::Source::name)).
        name: String,
        /// The 1-based epoch being read, or `None` for `evaluate_stream`.
        epoch: Option<usize>,
        /// Samples of the epoch read before the failure.
        read: usize,
        /// What went wrong.
        #[source]
        cause: crate::data::stream::BoxError,
    },
    /// A network with a `Normalization` layer whose statistics were never adapted from data.
    #[error(
        "layer `{layer}` of network `{network}` was never adapted: call `adapt` with the training \
         samples before `fit` or `evaluate` (Keras would standardise with mean 0 and variance 1)"
    )]
    NotAdapted {
        /// The network's name.
        network: &'static str,
        /// The layer's name.
        layer: &'static str,
    },
    /// An argument of a data helper out of its range (a `test_fraction` outside (0, 1), …);
    /// the message says what it must be.
    #[error("{argument}: {message}")]
    BadArgument {
        /// The argument.
        argument: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file's contents do not have the expected format.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

fn of_epoch(epoch: &Option<usize>) -> String {
    epoch.map(|e| format!(" of epoch {e}")).unwrap_or_default()
}

fn kept(epoch: &Option<usize>) -> &'static str {
    match epoch {
        Some(_) => "; training stopped and the weights of the last good step were kept",
        None => "",
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
