using System.Diagnostics.CodeAnalysis;

namespace AdCtr.Learning.MLNet;

/// <summary>
/// A logistic regression in the project's hashed feature space, as trained by <see cref="MlNetLogisticTrainer"/>:
/// one weight per feature index, the intercept stored at the encoder's bias index (whose feature is always 1).
/// </summary>
public sealed class LinearModel
{
    internal LinearModel(float[] weights, int biasIndex, int activeFeatures, double seconds)
    {
        Weights = weights;
        BiasIndex = biasIndex;
        ActiveFeatures = activeFeatures;
        Seconds = seconds;
    }

    /// <summary>One weight per feature index; zero for indices absent from the training data.</summary>
    public float[] Weights { get; }

    /// <summary>The index whose weight is the intercept.</summary>
    public int BiasIndex { get; }

    /// <summary>Distinct feature indices in the training data (ML.NET's dimension, the bias aside).</summary>
    public int ActiveFeatures { get; }

    /// <summary>Wall-clock training time in seconds, data preparation included.</summary>
    public double Seconds { get; }

    /// <summary>The logit sum_k w[idx[k]] * val[k]. Does not allocate.</summary>
    public double PredictLogit(ReadOnlySpan<int> idx, ReadOnlySpan<float> val)
    {
        if (idx.Length != val.Length)
        {
            ThrowLengthMismatch();
        }

        var w = Weights;
        double z = 0;
        for (var k = 0; k < idx.Length; k++)
        {
            z += (double)w[idx[k]] * val[k];
        }

        return z;
    }

    /// <summary>sigmoid(<see cref="PredictLogit"/>).</summary>
    public double Predict(ReadOnlySpan<int> idx, ReadOnlySpan<float> val) => 1 / (1 + Math.Exp(-PredictLogit(idx, val)));

    [DoesNotReturn]
    private static void ThrowLengthMismatch() => throw new ArgumentException("Indices and values must have the same length.", "val");
}
