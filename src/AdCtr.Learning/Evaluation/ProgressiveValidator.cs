namespace AdCtr.Learning.Evaluation;

/// <summary>The metrics of one closed window of a <see cref="ProgressiveValidator"/>.</summary>
/// <param name="Key">The window key the caller passed (example index / size, or a time bucket).</param>
/// <param name="Metrics">Metrics of the examples of the window.</param>
/// <param name="Truth">Distance to the true probabilities for the examples added with one.</param>
public readonly record struct ProgressiveWindow(long Key, BinaryMetrics Metrics, TruthMetrics Truth);

/// <summary>
/// Progressive validation (Blum, Kalai and Langford, "Beyond Hoeffding and Chernoff: a Progressive
/// Validation Bound", COLT 1999): each example is scored by the current model before the model learns from
/// it, and the average of those losses estimates the holdout loss without holding data out.
/// This class only accumulates: the caller predicts, calls <see cref="Add"/>, then trains.
/// Metrics are kept in total and per window; a window closes when the window key changes (see
/// <see cref="WindowBySize"/> and <see cref="WindowByTime(DateTimeOffset, TimeSpan)"/>) or on
/// <see cref="CloseWindow"/>. Not thread-safe.
/// </summary>
public sealed class ProgressiveValidator
{
    private readonly MetricsAccumulator _total = new();
    private readonly MetricsAccumulator _window = new();
    private readonly List<ProgressiveWindow> _windows = [];
    private TruthSums _totalTruth;
    private TruthSums _windowTruth;
    private long _windowKey;
    private bool _windowOpen;

    /// <summary>Metrics over every example added.</summary>
    public BinaryMetrics Total => _total.Compute();

    /// <summary>Distance to the truth over every example added with <see cref="AddWithTruth"/>.</summary>
    public TruthMetrics TotalTruth => _totalTruth.ToMetrics();

    /// <summary>The closed windows in the order they were closed. The open window is not included.</summary>
    public IReadOnlyList<ProgressiveWindow> Windows => _windows;

    /// <summary>Key of the open window, or null when no window is open.</summary>
    public long? OpenWindowKey => _windowOpen ? _windowKey : null;

    /// <summary>Records a progressive prediction (made before learning from the example).</summary>
    public void Add(double p, int label, double weight, long windowKey)
    {
        ThrowHelper.CheckExample(p, label, weight);
        Roll(windowKey);
        _window.Add(p, label, weight);
        _total.Add(p, label, weight);
    }

    /// <summary>
    /// Records a progressive prediction together with the true click probability of the example (known in
    /// simulation), for the mean absolute error, RMSE and oracle log loss.
    /// </summary>
    public void AddWithTruth(double p, int label, double weight, long windowKey, double trueP)
    {
        ThrowHelper.CheckExample(p, label, weight);
        if (!(trueP >= 0 && trueP <= 1))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(trueP), "The true probability must be in [0, 1].");
        }

        Add(p, label, weight, windowKey);
        _windowTruth.Add(p, label, weight, trueP);
        _totalTruth.Add(p, label, weight, trueP);
    }

    /// <summary>Closes the open window (if any) so that it appears in <see cref="Windows"/>.</summary>
    public void CloseWindow()
    {
        if (!_windowOpen)
        {
            return;
        }

        _windows.Add(new ProgressiveWindow(_windowKey, _window.Compute(), _windowTruth.ToMetrics()));
        _window.Reset();
        _windowTruth = default;
        _windowOpen = false;
    }

    /// <summary>Window key for fixed-size windows: <paramref name="exampleIndex"/> / <paramref name="windowSize"/>.</summary>
    public static long WindowBySize(long exampleIndex, long windowSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(exampleIndex);
        ArgumentOutOfRangeException.ThrowIfLessThan(windowSize, 1);
        return exampleIndex / windowSize;
    }

    /// <summary>Window key for time buckets: floor(ticks / bucket ticks), also for times before the epoch.</summary>
    public static long WindowByTime(long ticks, long bucketTicks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketTicks, 1);
        var q = ticks / bucketTicks;
        return ticks % bucketTicks < 0 ? q - 1 : q;
    }

    /// <summary>Window key for time buckets of <paramref name="bucket"/> counted from 0001-01-01 UTC.</summary>
    public static long WindowByTime(DateTimeOffset time, TimeSpan bucket) => WindowByTime(time.UtcTicks, bucket.Ticks);

    private void Roll(long windowKey)
    {
        if (_windowOpen && windowKey != _windowKey)
        {
            CloseWindow();
        }

        _windowKey = windowKey;
        _windowOpen = true;
    }
}
