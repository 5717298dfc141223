using System.Runtime.CompilerServices;
using AdCtr.Learning.Memory;

namespace AdCtr.Learning.Evaluation;

/// <summary>
/// Accumulates (prediction, label, weight) triples and computes <see cref="BinaryMetrics"/>: log loss,
/// normalized entropy and calibration ratio (He et al., ADKDD 2014) and the exact weighted AUC
/// (Mann-Whitney, ties count one half). The triples are kept in a growable array of 16-byte records (the score's
/// bits as a sort key; the weight with the label in its sign), in the order they were added, so that the AUC is
/// exact; for the AUC (and the equal-mass reliability table) they are copied and sorted by a stable LSD radix
/// sort, once per batch of additions (the sorted copy is reused until the next <see cref="Add"/>). Memory is
/// 16 bytes per example, plus 32 while sorting. Not thread-safe.
/// </summary>
public sealed class MetricsAccumulator
{
    private const int InitialCapacity = 64;

    private ScoreRecord[] _entries;
    private int _count;
    private ScoreRecord[] _sorted = [];
    private int _sortedCount = -1;
    private double _weightSum;
    private double _clicks;
    private double _predictionSum;
    private double _logLossSum;

    /// <summary>An empty accumulator.</summary>
    public MetricsAccumulator()
    {
        _entries = [];
    }

    /// <summary>
    /// An empty accumulator with room for <paramref name="capacity"/> examples before its array grows (each growth
    /// copies it). The array is not zeroed: memory that is never written is never touched.
    /// </summary>
    public MetricsAccumulator(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, Array.MaxLength);
        _entries = capacity == 0 ? [] : LargeArrays.Allocate<ScoreRecord>(capacity);
    }

    /// <summary>Number of examples added.</summary>
    public long Count => _count;

    /// <summary>Sum of the weights added.</summary>
    public double WeightSum => _weightSum;

    /// <summary>Adds one scored example. <paramref name="p"/> in [0, 1], label 0 or 1, weight finite and non-negative.</summary>
    public void Add(double p, int label, double weight = 1)
    {
        ThrowHelper.CheckExample(p, label, weight);
        if (_count == _entries.Length)
        {
            Grow(_count + 1);
        }

        _entries[_count++] = ToRecord(p, label, weight);
        _sortedCount = -1;
        _weightSum += weight;
        _clicks += weight * label;
        _predictionSum += weight * p;
        _logLossSum += weight * LogLoss.Of(p, label);
    }

    /// <summary>Appends every example of <paramref name="other"/> (which is left unchanged).</summary>
    public void Merge(MetricsAccumulator other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (ReferenceEquals(other, this))
        {
            throw new ArgumentException("An accumulator cannot be merged into itself.", nameof(other));
        }

        if (other._count == 0)
        {
            return;
        }

        if (_count + other._count > _entries.Length)
        {
            Grow(_count + other._count);
        }

        Array.Copy(other._entries, 0, _entries, _count, other._count);
        _count += other._count;
        _sortedCount = -1;
        _weightSum += other._weightSum;
        _clicks += other._clicks;
        _predictionSum += other._predictionSum;
        _logLossSum += other._logLossSum;
    }

    /// <summary>Forgets every example; keeps the allocated buffer.</summary>
    public void Reset()
    {
        _count = 0;
        _sortedCount = -1;
        _weightSum = 0;
        _clicks = 0;
        _predictionSum = 0;
        _logLossSum = 0;
    }

    /// <summary>
    /// A new accumulator holding the examples added from position <paramref name="start"/> (0-based, in the
    /// order of addition) to the end. Its sums are accumulated in the same order as if those examples had been
    /// added to a fresh accumulator, so its metrics are bit-identical to that accumulator's.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public MetricsAccumulator Suffix(long start)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(start, _count);
        var suffix = new MetricsAccumulator();
        var entries = _entries.AsSpan((int)start, _count - (int)start);
        if (!entries.IsEmpty)
        {
            suffix.Grow(entries.Length);
        }

        foreach (ref readonly var r in entries)
        {
            var e = ToEntry(in r);
            suffix.Add(e.Score, e.Label, e.Weight);
        }

        return suffix;
    }

    /// <summary>
    /// <see cref="Compute"/> of every example and of the examples from position <paramref name="start"/> on (what
    /// <c>Suffix(start).Compute()</c> gives), bit-identical to those, with one sort of the examples on two threads
    /// instead of two sorts on one: the examples are sorted as three runs of consecutive positions (the first half,
    /// the rest before <paramref name="start"/>, the suffix; the first on another thread), the suffix's AUC is taken
    /// from its run, and the whole AUC from a merge of the three that takes tied scores from the earlier run first, which
    /// is the order of the stable sort of all examples.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public (BinaryMetrics All, BinaryMetrics Suffix) ComputeWithSuffix(long start)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(start, _count);
        var n = _count;
        var from = (int)start;

        // The suffix's sums, accumulated in the order a fresh accumulator would (see Add).
        double weightSum = 0, clicks = 0, predictionSum = 0, logLossSum = 0;
        foreach (ref readonly var r in _entries.AsSpan(from, n - from))
        {
            var e = ToEntry(in r);
            weightSum += e.Weight;
            clicks += e.Weight * e.Label;
            predictionSum += e.Weight * e.Score;
            logLossSum += e.Weight * LogLoss.Of(e.Score, e.Label);
        }

        var needAll = _count > 0 && _weightSum > 0 && _clicks > 0 && _weightSum - _clicks > 0;
        var needSuffix = n - from > 0 && weightSum > 0 && clicks > 0 && weightSum - clicks > 0;
        double auc = double.NaN, suffixAuc = double.NaN;
        if (needAll || needSuffix)
        {
            var mid = Math.Min(from, n / 2);
            var first = LargeArrays.Allocate<ScoreRecord>(n);
            var second = LargeArrays.Allocate<ScoreRecord>(n);
            var runs = new RunSorter[]
            {
                new(_entries, first, second, 0, mid),
                new(_entries, first, second, mid, from),
                new(_entries, first, second, from, n),
            };
            var other = Task.Factory.StartNew(static state => ((RunSorter)state!).Sort(), runs[0], CancellationToken.None, TaskCreationOptions.None, TaskScheduler.Default);
            runs[1].Sort();
            runs[2].Sort();
            other.GetAwaiter().GetResult();
            if (needSuffix)
            {
                suffixAuc = MergedAuc(runs[2].Sorted, default, default, clicks);
            }

            if (needAll)
            {
                auc = MergedAuc(runs[0].Sorted, runs[1].Sorted, runs[2].Sorted, _clicks);
            }
        }

        return (Build(_count, _weightSum, _clicks, _predictionSum, _logLossSum, auc),
            Build(n - from, weightSum, clicks, predictionSum, logLossSum, suffixAuc));
    }

    /// <summary>
    /// <see cref="ComputeAuc"/> over the concatenation of three sorted runs of consecutive positions, as if that had
    /// been sorted stably: equal keys are taken from <paramref name="a"/>, then <paramref name="b"/>, then <paramref name="c"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double MergedAuc(ReadOnlySpan<ScoreRecord> a, ReadOnlySpan<ScoreRecord> b, ReadOnlySpan<ScoreRecord> c, double positives)
    {
        double negativesBelow = 0;
        double pairs = 0;
        int i = 0, j = 0, k = 0;
        while (i < a.Length || j < b.Length || k < c.Length)
        {
            var key = ulong.MaxValue;
            if (i < a.Length)
            {
                key = a[i].Key;
            }

            if (j < b.Length && b[j].Key < key)
            {
                key = b[j].Key;
            }

            if (k < c.Length && c[k].Key < key)
            {
                key = c[k].Key;
            }

            double groupPositive = 0;
            double groupNegative = 0;
            Group(a, ref i, key, ref groupPositive, ref groupNegative);
            Group(b, ref j, key, ref groupPositive, ref groupNegative);
            Group(c, ref k, key, ref groupPositive, ref groupNegative);
            pairs += groupPositive * (negativesBelow + 0.5 * groupNegative);
            negativesBelow += groupNegative;
        }

        return pairs / (positives * negativesBelow);

        static void Group(ReadOnlySpan<ScoreRecord> run, ref int at, ulong key, ref double groupPositive, ref double groupNegative)
        {
            while (at < run.Length && run[at].Key == key)
            {
                var signedWeight = run[at].SignedWeight;
                if (double.IsNegative(signedWeight))
                {
                    groupPositive += -signedWeight;
                }
                else
                {
                    groupNegative += signedWeight;
                }

                at++;
            }
        }
    }

    /// <summary>Sorts the records of positions [from, to) into the same range of one of two buffers.</summary>
    private sealed class RunSorter(ScoreRecord[] entries, ScoreRecord[] first, ScoreRecord[] second, int from, int to)
    {
        private bool _inSecond;

        public ReadOnlySpan<ScoreRecord> Sorted => (_inSecond ? second : first).AsSpan(from, to - from);

        public void Sort()
        {
            var length = to - from;
            _inSecond = ScoreRadixSort.Sort(entries.AsSpan(from, length), first.AsSpan(from, length), second.AsSpan(from, length)) == ScoreRadixSort.Result.InSecond;
        }
    }

    /// <summary>Computes every metric over the examples added so far.</summary>
    public BinaryMetrics Compute()
    {
        if (_count == 0 || _weightSum <= 0)
        {
            return Build(_count, _weightSum, _clicks, _predictionSum, _logLossSum, double.NaN);
        }

        return Build(_count, _weightSum, _clicks, _predictionSum, _logLossSum, ComputeAuc());
    }

    /// <summary>The metrics from the sums of an accumulator and its AUC.</summary>
    private static BinaryMetrics Build(long count, double weightSum, double clicks, double predictionSum, double logLossSum, double auc)
    {
        if (count == 0)
        {
            return BinaryMetrics.Empty;
        }

        if (weightSum <= 0)
        {
            return BinaryMetrics.Empty with { Examples = count };
        }

        var ctr = clicks / weightSum;
        var logLoss = logLossSum / weightSum;

        // He et al. 2014: NE = average log loss / entropy of the background CTR; undefined when the CTR is 0 or 1.
        var entropy = LogLoss.Entropy(ctr);
        var ne = entropy > 0 ? logLoss / entropy : double.NaN;

        // He et al. 2014: calibration = expected clicks (sum of predictions) / observed clicks.
        var calibration = clicks > 0 ? predictionSum / clicks : double.NaN;

        return new BinaryMetrics(
            count,
            weightSum,
            clicks,
            logLoss,
            ne,
            auc,
            calibration,
            predictionSum / weightSum,
            ctr);
    }

    /// <summary>
    /// Weighted Mann-Whitney AUC: the probability that a random positive scores above a random negative,
    /// ties counting one half, each pair weighted by the product of the two example weights.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private double ComputeAuc()
    {
        var positives = _clicks;
        var negatives = _weightSum - _clicks;
        if (!(positives > 0) || !(negatives > 0))
        {
            return double.NaN;
        }

        var sorted = SortedRecords();
        double negativesBelow = 0;
        double pairs = 0;
        var i = 0;
        while (i < sorted.Length)
        {
            var key = sorted[i].Key;
            double groupPositive = 0;
            double groupNegative = 0;
            while (i < sorted.Length && sorted[i].Key == key)
            {
                var signedWeight = sorted[i].SignedWeight;
                if (double.IsNegative(signedWeight))
                {
                    groupPositive += -signedWeight;
                }
                else
                {
                    groupNegative += signedWeight;
                }

                i++;
            }

            pairs += groupPositive * (negativesBelow + 0.5 * groupNegative);
            negativesBelow += groupNegative;
        }

        // The negative weight recounted from the entries equals `negatives` up to rounding; using the sum
        // of the group weights keeps the result in [0, 1] exactly.
        return pairs / (positives * negativesBelow);
    }

    /// <summary>
    /// The reliability table: per bin the example count, mass, weighted mean prediction and weighted click
    /// rate. Equal-width bins are always returned (empty ones with NaN means); equal-mass bins that end up
    /// empty because of ties are dropped.
    /// </summary>
    public ReliabilityBin[] ReliabilityTable(int bins, ReliabilityBinning binning = ReliabilityBinning.EqualWidth)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        var counts = new long[bins];
        var mass = new double[bins];
        var predicted = new double[bins];
        var observed = new double[bins];
        var lower = new double[bins];
        var upper = new double[bins];

        if (binning == ReliabilityBinning.EqualWidth)
        {
            for (var b = 0; b < bins; b++)
            {
                lower[b] = (double)b / bins;
                upper[b] = (double)(b + 1) / bins;
            }

            foreach (ref readonly var r in _entries.AsSpan(0, _count))
            {
                var e = ToEntry(in r);
                var b = Math.Min((int)(e.Score * bins), bins - 1);
                Accumulate(b, in e);
            }
        }
        else if (binning == ReliabilityBinning.EqualMass)
        {
            var sorted = SortedRecords();
            lower.AsSpan().Fill(double.NaN);
            double cumulative = 0;
            var i = 0;
            while (i < sorted.Length)
            {
                // A group of tied predictions goes to the bin where its first unit of mass falls.
                var key = sorted[i].Key;
                var score = BitConverter.UInt64BitsToDouble(key);
                var b = _weightSum > 0 ? Math.Min((int)(cumulative / _weightSum * bins), bins - 1) : 0;
                if (double.IsNaN(lower[b]))
                {
                    lower[b] = score;
                }

                upper[b] = score;
                while (i < sorted.Length && sorted[i].Key == key)
                {
                    var e = ToEntry(in sorted[i]);
                    Accumulate(b, in e);
                    cumulative += e.Weight;
                    i++;
                }
            }
        }
        else
        {
            throw new ArgumentOutOfRangeException(nameof(binning));
        }

        var table = new List<ReliabilityBin>(bins);
        for (var b = 0; b < bins; b++)
        {
            if (binning == ReliabilityBinning.EqualMass && counts[b] == 0)
            {
                continue;
            }

            var meanPredicted = mass[b] > 0 ? predicted[b] / mass[b] : double.NaN;
            var observedRate = mass[b] > 0 ? observed[b] / mass[b] : double.NaN;
            table.Add(new ReliabilityBin(lower[b], upper[b], counts[b], mass[b], meanPredicted, observedRate));
        }

        return [.. table];

        void Accumulate(int b, in Entry e)
        {
            counts[b]++;
            mass[b] += e.Weight;
            predicted[b] += e.Weight * e.Score;
            observed[b] += e.Weight * e.Label;
        }
    }

    /// <summary>
    /// Expected calibration error: the sum over bins of (bin mass / total mass) * |mean prediction - click rate|.
    /// NaN when no weight was added.
    /// </summary>
    public double ExpectedCalibrationError(int bins, ReliabilityBinning binning = ReliabilityBinning.EqualWidth)
    {
        if (!(_weightSum > 0))
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
            return double.NaN;
        }

        double ece = 0;
        foreach (var bin in ReliabilityTable(bins, binning))
        {
            if (bin.WeightSum > 0)
            {
                ece += bin.WeightSum / _weightSum * Math.Abs(bin.MeanPredicted - bin.ObservedRate);
            }
        }

        return ece;
    }

    /// <summary>The examples sorted by score, ties in the order of addition (cached until the next change).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // called once per evaluation: skip tier 0 for its loops
    private ReadOnlySpan<ScoreRecord> SortedRecords()
    {
        if (_sortedCount != _count)
        {
            if (_sorted.Length < _count)
            {
                _sorted = GC.AllocateUninitializedArray<ScoreRecord>(_count);
            }

            // Sorted straight out of the entries (which keep their order): the result is in one of the two
            // buffers; keep that one.
            var scratch = GC.AllocateUninitializedArray<ScoreRecord>(_count);
            if (ScoreRadixSort.Sort(_entries.AsSpan(0, _count), _sorted.AsSpan(0, _count), scratch) == ScoreRadixSort.Result.InSecond)
            {
                _sorted = scratch;
            }

            _sortedCount = _count;
        }

        return _sorted.AsSpan(0, _count);
    }

    private void Grow(int required)
    {
        var capacity = Math.Max(Math.Max(InitialCapacity, required), (int)Math.Min(Array.MaxLength, 2L * _entries.Length));
        Array.Resize(ref _entries, capacity);
    }

    private readonly record struct Entry(double Score, double Weight, int Label);

    /// <summary>
    /// One example as it is stored and sorted: the score's IEEE bits (scores are in [0, 1], so the bits of a non-negative
    /// double order like the values; -0 becomes +0, which it equals) and the weight, negated for a click (a click
    /// of weight 0 is -0, so <see cref="double.IsNegative"/> still tells the label).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ScoreRecord ToRecord(double p, int label, double weight) =>
        new(BitConverter.DoubleToUInt64Bits(p) & ~(1UL << 63), label != 0 ? -weight : weight);

    private static Entry ToEntry(in ScoreRecord r) =>
        new(BitConverter.UInt64BitsToDouble(r.Key), Math.Abs(r.SignedWeight), double.IsNegative(r.SignedWeight) ? 1 : 0);
}
