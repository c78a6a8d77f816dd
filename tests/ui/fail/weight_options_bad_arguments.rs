// Initializer and regularizer mistakes: each is one error on the argument, in layer terms.
dl::network! {
    struct Misspelled {
        input: [8],
        Dense(4, kernel_initializer = he_norml),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct NotAName {
        input: [8],
        Dense(4, kernel_initializer = 3),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct UnknownRegularizer {
        input: [8, 8, 1],
        Conv2D(4, (3, 3), kernel_regularizer = l3(0.1)),
        Flatten,
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct NegativeFactor {
        input: [8],
        Dense(4, kernel_regularizer = l2(-1e-4)),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct WrongFactorName {
        input: [8],
        Dense(4, kernel_regularizer = l2(l1 = 0.01)),
        Dense(1, sigmoid),
    }
}

dl::network! {
    /// Keras names a depthwise kernel's options `depthwise_…`.
    struct DepthwiseKernelOption {
        input: [8, 8, 2],
        DepthwiseConv2D((3, 3), kernel_initializer = he_normal),
        Flatten,
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct SequenceKernel {
        input: [12, 4],
        Conv1D(8, 3, kernel_initializer = he_norml, kernel_regularizer = l2(-1.0)),
        Flatten,
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct RecurrentKernels {
        input: [12, 4],
        LSTM(8, return_sequences = true, use_bias = maybe),
        GRU(8, return_sequences = true, recurrent_initializer = orthgonal),
        SimpleRNN(8, recurrent_regularizer = l3(0.1)),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct WrappedKernels {
        input: [12, 4],
        Bidirectional(LSTM(8, kernel_regularizer = l2(-1.0))),
        Dense(1, sigmoid),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    use dl::prelude::SVector;
    // Code that uses the networks as users do reports nothing more than the mistakes above.
    use_network!(Misspelled, SVector::<f32, 8>::zeros());
    use_network!(NotAName, SVector::<f32, 8>::zeros());
    use_network!(UnknownRegularizer, SVector::<f32, 64>::zeros());
    use_network!(NegativeFactor, SVector::<f32, 8>::zeros());
    use_network!(WrongFactorName, SVector::<f32, 8>::zeros());
    use_network!(DepthwiseKernelOption, SVector::<f32, 128>::zeros());
    use_network!(SequenceKernel, SVector::<f32, 48>::zeros());
    use_network!(RecurrentKernels, SVector::<f32, 48>::zeros());
    use_network!(WrappedKernels, SVector::<f32, 48>::zeros());
    Ok(())
}
