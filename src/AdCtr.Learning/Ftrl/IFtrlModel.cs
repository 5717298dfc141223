namespace AdCtr.Learning.Ftrl;

/// <summary>
/// A logistic model trained with FTRL-Proximal, whatever its storage. Weights are computed lazily from
/// (z, n) for the active coordinates only.
/// </summary>
public interface IFtrlModel
{
    FtrlParameters Parameters { get; }

    /// <summary>Number of coordinates with state (for dense storage, the ones touched at least once).</summary>
    long Coordinates { get; }

    /// <summary>Bytes held by the model's state.</summary>
    long MemoryBytes { get; }

    /// <summary>
    /// Sum of x_i * w_i over the active coordinates; writes each w_i to <paramref name="weights"/> (same
    /// length as <paramref name="indices"/>) so <see cref="Update"/> can reuse them.
    /// </summary>
    double Dot(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> weights);

    /// <summary>Sum of x_i * w_i without keeping the weights (prediction only; never changes state).</summary>
    double Dot(ReadOnlySpan<int> indices, ReadOnlySpan<float> values);

    /// <summary>
    /// One FTRL-Proximal step with g_i = <paramref name="gradientScale"/> * x_i, where gradientScale is
    /// importance_weight * (p - y) and <paramref name="weights"/> are the w_i used for p.
    /// </summary>
    void Update(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, ReadOnlySpan<float> weights, float gradientScale);

    /// <summary>The current weight of one coordinate (explain, tests).</summary>
    float WeightOf(int index);

    /// <summary>The raw state (z, n) of one coordinate, or false when it has none.</summary>
    bool TryGetState(int index, out float z, out float n);
}
