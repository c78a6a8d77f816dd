//! Networks covering every layer kind, declared once and expanded by the caller's macro as
//! `$m!(Trainable, Embedded, "weight file", { body })`. The weight files are committed; the
//! ignored test `regenerate` in `tests/embedded_fixtures.rs` rewrites them.

#[macro_export]
macro_rules! with_embedded_nets {
    ($m:ident) => {
        $m!(Mlp, MlpEmbedded, "../fixtures/embedded/mlp.safetensors", {
            input: [10],
            Dense(64, relu),
            Dense(64, relu),
            Dense(1, sigmoid),
        });
        $m!(Activations, ActivationsEmbedded, "../fixtures/embedded/activations.safetensors", {
            input: [6],
            Dense(8, tanh),
            Dense(8, gelu),
            Dense(8, elu),
            Dense(8, leaky_relu),
            Dropout(0.3),
            Dense(8, softplus),
            Dense(8, swish),
            Dense(8, linear),
            Dense(4, softmax),
        });
        $m!(Cnn, CnnEmbedded, "../fixtures/embedded/cnn.safetensors", {
            input: [11, 10, 2],
            Conv2D(4, (3, 3), relu, padding = same, strides = (2, 1)),
            MaxPooling2D((2, 2), padding = same),
            Conv2D(5, (2, 3), elu),
            AveragePooling2D((2, 2), strides = (1, 1), padding = same),
            Flatten,
            Dense(3, softmax),
        });
        $m!(GlobalCnn, GlobalCnnEmbedded, "../fixtures/embedded/global_cnn.safetensors", {
            input: [9, 9, 3],
            Conv2D(6, 3, relu),
            MaxPooling2D(2),
            Conv2D(4, 2, sigmoid),
            GlobalMaxPooling2D,
            Dense(2, sigmoid),
        });
        $m!(AvgCnn, AvgCnnEmbedded, "../fixtures/embedded/avg_cnn.safetensors", {
            input: [8, 8, 1],
            Conv2D(3, 3, tanh, padding = same),
            AveragePooling2D(3),
            GlobalAveragePooling2D,
            Dense(1, sigmoid),
        });
        $m!(Normalized, NormalizedEmbedded, "../fixtures/embedded/normalized.safetensors", {
            input: [7, 7, 2],
            Conv2D(4, 3, padding = same),
            BatchNormalization(),
            MaxPooling2D(2),
            Flatten,
            Dense(6, relu),
            BatchNormalization(epsilon = 0.01),
            Dense(3, softmax),
        });
        $m!(Text, TextEmbedded, "../fixtures/embedded/text.safetensors", {
            input: tokens[12],
            Embedding(40, 8),
            LSTM(6, return_sequences = true),
            GRU(5, return_sequences = true),
            SimpleRNN(4, return_sequences = true),
            GlobalMaxPooling1D,
            Dense(3, softmax),
        });
        $m!(TextLast, TextLastEmbedded, "../fixtures/embedded/text_last.safetensors", {
            input: tokens[9],
            Embedding(30, 5),
            Dense(6, relu),
            GRU(4, return_sequences = true),
            GlobalAveragePooling1D,
            Dense(3, softmax),
        });
        $m!(Recurrent, RecurrentEmbedded, "../fixtures/embedded/recurrent.safetensors", {
            input: tokens[7],
            Embedding(20, 4),
            SimpleRNN(5, return_sequences = true),
            LSTM(3),
            Dense(2, softmax),
        });
        $m!(Masked, MaskedEmbedded, "../fixtures/embedded/masked.safetensors", {
            input: tokens[10],
            Embedding(30, 5, mask_zero = true),
            Dense(6, tanh),
            LSTM(4, return_sequences = true),
            SimpleRNN(3, return_sequences = true),
            GRU(4, return_sequences = true),
            GlobalAveragePooling1D,
            Dense(3, softmax),
        });
        $m!(MaskedLast, MaskedLastEmbedded, "../fixtures/embedded/masked_last.safetensors", {
            input: tokens[8],
            Embedding(20, 4, mask_zero = true),
            GRU(5),
            Dense(2, softmax),
        });
        $m!(GruLast, GruLastEmbedded, "../fixtures/embedded/gru_last.safetensors", {
            input: tokens[6],
            Embedding(25, 4),
            GRU(5),
            Dense(1, sigmoid),
        });
        $m!(BiText, BiTextEmbedded, "../fixtures/embedded/bidirectional.safetensors", {
            input: tokens[9],
            Embedding(25, 4),
            Bidirectional(LSTM(3, return_sequences = true)),
            Bidirectional(GRU(4)),
            Dense(2, softmax),
        });
        $m!(BiMasked, BiMaskedEmbedded, "../fixtures/embedded/bidirectional_masked.safetensors", {
            input: tokens[10],
            Embedding(30, 5, mask_zero = true),
            Bidirectional(SimpleRNN(3, return_sequences = true)),
            Bidirectional(LSTM(4, return_sequences = true)),
            GlobalAveragePooling1D,
            Dense(3, softmax),
        });
        $m!(ActivationLayers, ActivationLayersEmbedded, "../fixtures/embedded/activation_layers.safetensors", {
            input: [5, 5, 2],
            Conv2D(3, (3, 3)),
            Activation(softmax),
            Conv2D(4, (2, 2)),
            Activation(elu),
            Flatten,
            Dense(6),
            Activation(gelu),
            Dense(4),
            Activation(softmax),
        });
        $m!(ResidualIdentity, ResidualIdentityEmbedded, "../fixtures/embedded/residual_identity.safetensors", {
            input: [6, 6, 2],
            Conv2D(4, (3, 3), padding = same),
            BatchNormalization(),
            start: Activation(relu),
            Conv2D(4, (3, 3), padding = same),
            BatchNormalization(),
            Activation(relu),
            Conv2D(4, (3, 3), padding = same),
            branch: BatchNormalization(),
            Add(start, branch),
            Activation(relu),
            GlobalAveragePooling2D,
            Dense(3, softmax),
        });
        $m!(ResidualProjection, ResidualProjectionEmbedded, "../fixtures/embedded/residual_projection.safetensors", {
            input: [8, 8, 3],
            Conv2D(4, (3, 3), padding = same),
            BatchNormalization(),
            stem: Activation(relu),
            Conv2D(6, (3, 3), strides = (2, 2), padding = same),
            BatchNormalization(),
            Activation(relu),
            Conv2D(6, (3, 3), padding = same),
            main: BatchNormalization(),
            shortcut: Conv2D(6, (1, 1), strides = (2, 2))(stem),
            Add(main, shortcut),
            Activation(relu),
            Flatten,
            Dropout(0.3),
            Dense(3, softmax),
        });
        $m!(Branches, BranchesEmbedded, "../fixtures/embedded/branches.safetensors", {
            input: [6, 6, 2],
            left: Conv2D(2, (3, 3), tanh),
            right: Conv2D(3, (3, 3), gelu)(input),
            Concatenate(left, right, axis = -1),
            MaxPooling2D(2),
            flat: Flatten,
            a: Dense(4, tanh),
            b: Dense(3, sigmoid)(flat),
            Concatenate(a, b),
            Dense(2, softmax),
        });
        $m!(LongSkip, LongSkipEmbedded, "../fixtures/embedded/long_skip.safetensors", {
            input: [5],
            early: Dense(6, tanh),
            Dense(6, elu),
            Dropout(0.2),
            Dense(6, gelu),
            Dense(6, softplus),
            late: Dense(6, swish),
            sum: Add(early, late),
            difference: Subtract(late, early),
            product: Multiply(early, late, sum),
            mean: Average(sum, difference),
            high: Maximum(sum, difference, product),
            low: Minimum(mean, product),
            Concatenate(early, high, low),
            Dense(3, softmax),
        });
        $m!(TextBranches, TextBranchesEmbedded, "../fixtures/embedded/text_branches.safetensors", {
            input: tokens[7],
            e: Embedding(20, 4),
            a: LSTM(3, return_sequences = true),
            b: GRU(5, return_sequences = true)(e),
            Concatenate(a, b),
            GlobalAveragePooling1D,
            Dense(2, softmax),
        });
        $m!(FlatInput, FlatInputEmbedded, "../fixtures/embedded/flat_input.safetensors", {
            input: [2, 2, 3],
            flat: Flatten,
            a: Dense(4, tanh),
            b: Dense(4, relu)(flat),
            Add(a, b),
            Dense(2, softmax),
        });
        $m!(Separable, SeparableEmbedded, "../fixtures/embedded/separable.safetensors", {
            input: [10, 9, 3],
            DepthwiseConv2D((3, 3), strides = (2, 2), padding = same, depth_multiplier = 2, activation = relu),
            SeparableConv2D(5, (3, 3), elu, padding = same, depth_multiplier = 2),
            DepthwiseConv2D((2, 2), activation = softmax, use_bias = false),
            SeparableConv2D(4, (2, 2), activation = softmax, use_bias = false),
            Flatten,
            Dense(3, softmax),
        });
        $m!(SeparableBranches, SeparableBranchesEmbedded, "../fixtures/embedded/separable_branches.safetensors", {
            input: [6, 6, 2],
            left: SeparableConv2D(3, (3, 3), relu, padding = same),
            right: DepthwiseConv2D((3, 3), padding = same, depth_multiplier = 2)(input),
            Concatenate(left, right),
            GlobalAveragePooling2D,
            Dense(2, softmax),
        });
        $m!(HardActivations, HardActivationsEmbedded, "../fixtures/embedded/hard_activations.safetensors", {
            input: [6, 6, 2],
            Conv2D(4, 3, hard_swish, padding = same),
            Activation(relu6),
            ZeroPadding2D(((1, 0), (2, 1))),
            Conv2D(3, 2, hard_sigmoid, use_bias = false),
            ReLU(max_value = 0.6, negative_slope = 0.2, threshold = 0.5),
            Flatten,
            Dense(8, relu6),
            Dense(6, hard_silu, use_bias = false),
            Dense(3, hard_sigmoid),
        });
        $m!(Conv1d, Conv1dEmbedded, "../fixtures/embedded/conv1d.safetensors", {
            input: [12, 3],
            Conv1D(4, 3, relu, padding = causal, dilation_rate = 2),
            MaxPooling1D(2),
            Conv1D(5, 2, softmax, strides = 2, padding = same, use_bias = false),
            AveragePooling1D(2, strides = 1, padding = same),
            Conv1D(4, 2, elu, dilation_rate = 2),
            GlobalMaxPooling1D,
            Dense(3, softmax),
        });
        $m!(TextConv, TextConvEmbedded, "../fixtures/embedded/text_conv.safetensors", {
            input: tokens[9],
            Embedding(20, 4),
            Conv1D(6, 3, relu, padding = same),
            AveragePooling1D(3, padding = same),
            GlobalAveragePooling1D,
            Dense(2, softmax),
        });
        $m!(LayerNorm, LayerNormEmbedded, "../fixtures/embedded/layer_norm.safetensors", {
            input: [5, 5, 2],
            Conv2D(4, (2, 2), tanh),
            LayerNormalization(),
            Conv2D(3, (2, 2), relu),
            LayerNormalization(epsilon = 0.01, center = false),
            Flatten,
            Dense(6, elu),
            LayerNormalization(scale = false),
            Dense(3, softmax),
        });
        $m!(Decoder, DecoderEmbedded, "../fixtures/embedded/decoder.safetensors", {
            input: [6],
            Dense(12, tanh),
            Reshape((2, 2, 3)),
            UpSampling2D(),
            Conv2D(4, (3, 3), relu, padding = same),
            UpSampling2D((1, 3)),
            Reshape((-1, 4)),
            Conv1D(3, 3, elu, strides = 2),
            Reshape((-1,)),
            Dense(3, softmax),
        });
        $m!(Preprocessed, PreprocessedEmbedded, "../fixtures/embedded/preprocessed.safetensors", {
            input: [4],
            Rescaling(0.5, offset = -1.0),
            Normalization(),
            Dense(6, relu),
            Normalization(axis = -1),
            Dense(3, softmax),
        });
        $m!(RecurrentNoBias, RecurrentNoBiasEmbedded, "../fixtures/embedded/recurrent_no_bias.safetensors", {
            input: tokens[8],
            Embedding(20, 4),
            LSTM(3, return_sequences = true, use_bias = false),
            Bidirectional(GRU(3, return_sequences = true, use_bias = false)),
            SimpleRNN(4, use_bias = false),
            Dense(2, softmax),
        });
        $m!(NormCenterScale, NormCenterScaleEmbedded, "../fixtures/embedded/batch_norm_center_scale.safetensors", {
            input: [5, 5, 2],
            Conv2D(3, (2, 2)),
            BatchNormalization(center = false),
            Activation(relu),
            Conv2D(4, (2, 2), tanh),
            BatchNormalization(scale = false),
            Flatten,
            Dense(5, elu),
            BatchNormalization(center = false, scale = false),
            Dense(3, softmax),
        });
    };
}
