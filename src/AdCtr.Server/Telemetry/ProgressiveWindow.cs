namespace AdCtr.Server.Telemetry;

/// <summary>
/// Progressive-validation sums (Blum, Kalai and Langford 1999: each example scored before it is learned) over a
/// sliding window of time: a ring of <c>buckets</c> time buckets of <c>bucketWidth</c> each. Learning threads
/// <see cref="Add"/> (prediction, label, weight) into per-processor stripes (a short uncontended lock each, no
/// clock read); <see cref="Rotate"/> (a timer every bucket width, and every scrape) moves the stripes' sums into
/// the bucket of the time it runs at, so an example is counted at most one bucket width late. The figures are
/// those of the buckets of the last <c>buckets x bucketWidth</c>: log loss, normalized entropy (He et al. 2014:
/// log loss over the entropy of the window's CTR) and calibration ratio (sum of predictions over clicks).
/// </summary>
internal sealed class ProgressiveWindow
{
    private readonly Stripe[] _stripes;
    private readonly Sums[] _ring;
    private readonly long[] _ringEpoch;
    private readonly long _bucketTicks;
    private readonly object _rotate = new();

    public ProgressiveWindow(int buckets, TimeSpan bucketWidth)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(buckets, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(bucketWidth, TimeSpan.Zero);
        _bucketTicks = bucketWidth.Ticks;
        _ring = new Sums[buckets];
        _ringEpoch = new long[buckets];
        Array.Fill(_ringEpoch, long.MinValue);
        var count = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(Environment.ProcessorCount, 1, 64));
        _stripes = new Stripe[count];
        for (var i = 0; i < count; i++)
        {
            _stripes[i] = new Stripe();
        }
    }

    /// <summary>The window's length: buckets x bucket width.</summary>
    public TimeSpan Length => TimeSpan.FromTicks(_bucketTicks * _ring.Length);

    /// <summary>Records one progressive prediction <paramref name="p"/> (made before learning) of an example.</summary>
    public void Add(double p, float label, float weight)
    {
        var clipped = Math.Clamp(p, 1e-15, 1 - 1e-15);
        var loss = weight * (label > 0 ? -Math.Log(clipped) : -Math.Log(1 - clipped));
        var stripe = _stripes[Thread.GetCurrentProcessorId() & (_stripes.Length - 1)];
        lock (stripe)
        {
            stripe.Open.Examples++;
            stripe.Open.Weight += weight;
            stripe.Open.Clicks += label * weight;
            stripe.Open.Predicted += p * weight;
            stripe.Open.LogLoss += loss;
        }
    }

    /// <summary>Moves what was added since the last rotation into the bucket of <paramref name="now"/>.</summary>
    public void Rotate(DateTimeOffset now)
    {
        var epoch = now.UtcTicks / _bucketTicks;
        lock (_rotate)
        {
            var slot = (int)(epoch % _ring.Length);
            if (_ringEpoch[slot] != epoch)
            {
                _ring[slot] = default;
                _ringEpoch[slot] = epoch;
            }

            foreach (var stripe in _stripes)
            {
                Sums taken;
                lock (stripe)
                {
                    taken = stripe.Open;
                    stripe.Open = default;
                }

                _ring[slot].Add(taken);
            }
        }
    }

    /// <summary>Rotates, then sums the buckets of the window ending at <paramref name="now"/>.</summary>
    public WindowFigures Read(DateTimeOffset now)
    {
        Rotate(now);
        var epoch = now.UtcTicks / _bucketTicks;
        var total = default(Sums);
        lock (_rotate)
        {
            for (var i = 0; i < _ring.Length; i++)
            {
                // Bucket epochs epoch - buckets + 1 .. epoch are in the window; older slots are stale.
                if (_ringEpoch[i] > epoch - _ring.Length && _ringEpoch[i] <= epoch)
                {
                    total.Add(_ring[i]);
                }
            }
        }

        return new WindowFigures(total.Examples, total.Weight, total.Clicks, total.Predicted, total.LogLoss);
    }

    private struct Sums
    {
        public long Examples;
        public double Weight;
        public double Clicks;
        public double Predicted;
        public double LogLoss;

        public void Add(in Sums other)
        {
            Examples += other.Examples;
            Weight += other.Weight;
            Clicks += other.Clicks;
            Predicted += other.Predicted;
            LogLoss += other.LogLoss;
        }
    }

    private sealed class Stripe
    {
        public Sums Open;
#pragma warning disable CS0169, IDE0051 // padding: keeps two stripes' sums off one 64-byte cache line
        private readonly long _pad0, _pad1, _pad2, _pad3;
#pragma warning restore CS0169, IDE0051
    }
}

/// <summary>Sums of a progressive window and the figures derived from them (NaN where undefined).</summary>
internal readonly record struct WindowFigures(long Examples, double Weight, double Clicks, double SumPredicted, double LogLossSum)
{
    /// <summary>Mean log loss (natural log) per unit of weight; NaN for an empty window.</summary>
    public double LogLoss => Weight > 0 ? LogLossSum / Weight : double.NaN;

    /// <summary>Log loss over the entropy of the window's CTR (He et al. 2014); NaN when the CTR is 0 or 1.</summary>
    public double NormalizedEntropy
    {
        get
        {
            var ctr = Weight > 0 ? Clicks / Weight : double.NaN;
            if (!(ctr > 0 && ctr < 1))
            {
                return double.NaN;
            }

            return LogLoss / -((ctr * Math.Log(ctr)) + ((1 - ctr) * Math.Log(1 - ctr)));
        }
    }

    /// <summary>Sum of predictions over clicks (1 is perfect); NaN without clicks.</summary>
    public double CalibrationRatio => Clicks > 0 ? SumPredicted / Clicks : double.NaN;
}
