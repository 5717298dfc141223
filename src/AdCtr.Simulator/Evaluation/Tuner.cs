using AdCtr.Learning.Evaluation;
using AdCtr.Learning.Features;
using AdCtr.Learning.Ftrl;
using AdCtr.Learning.Models;
using AdCtr.Learning.Readers;

namespace AdCtr.Simulator.Evaluation;

/// <summary>What <see cref="Tuner"/> searches and how much it may spend.</summary>
public sealed class TuneSettings
{
    public required FeatureSpec Spec { get; init; }

    /// <summary>The configuration's values: trial 0, and the Beta and CampaignAdmission every trial keeps.</summary>
    public required ModelSettings Baseline { get; init; }

    /// <summary>Configurations in the first rung (the baseline included); each later rung keeps the best third.</summary>
    public int Budget { get; init; } = 27;

    public ulong Seed { get; init; } = 1;

    public int Threads { get; init; } = 2;

    public bool Strict { get; init; }

    /// <summary>Kept fraction per rung and growth of the rows per rung (eta of successive halving).</summary>
    public const int Eta = 3;
}

/// <summary>One trial: a configuration scored on the first <paramref name="Rows"/> rows in rung <paramref name="Rung"/>.</summary>
public sealed record TuneTrial(int Id, int Rung, long Rows, FtrlParameters Global, FtrlParameters Campaign, double LogLoss);

/// <summary>All trials, rung by rung (each rung's trials best first), and the winner (the best of the last rung).</summary>
public sealed record TuneResult(IReadOnlyList<TuneTrial> Trials, TuneTrial Best, long Rows, long MalformedLines);

/// <summary>
/// Budgeted search of the FTRL-Proximal hyper-parameters (alpha, L1, L2 of the global and of the campaign parts) by
/// successive halving (Jamieson and Talwalkar, "Non-stochastic Best Arm Identification and Hyperparameter
/// Optimization", AISTATS 2016; the inner loop of Hyperband, Li et al., JMLR 2018): <see cref="TuneSettings.Budget"/>
/// configurations (the configuration's own values, then log-uniform samples from a seeded generator) are scored on a
/// short prefix of the log; the best third goes on to a prefix three times longer, until the last rung scores the
/// survivors on every row. The score is the progressive log loss (Blum, Kalai and Langford 1999) over the prefix,
/// learned strictly in order as <c>eval</c> learns, so the winner's last score equals <c>eval</c>'s figure on the file
/// with the winner's settings. The log is read and encoded once and kept in memory (about 8 bytes per feature).
/// Trials of one rung run on <see cref="TuneSettings.Threads"/> threads; each writes its own slot, so the result does
/// not depend on their timing.
/// </summary>
public static class Tuner
{
    // Log-uniform ranges: wide around the values that work on the simulator's scenarios and on Criteo-like logs
    // (alpha 0.01..0.3 is the range McMahan et al. 2013 report tuning over; the campaign part is regularised more
    // strongly, GLMix, Zhang et al. 2016).
    private static readonly (double Low, double High)[] Ranges =
    [
        (0.01, 0.3), (0.01, 3.0), (0.1, 30.0), // global alpha, L1, L2
        (0.005, 0.3), (0.01, 3.0), (1.0, 100.0), // campaign alpha, L1, L2
    ];

    public static TuneResult Run(string path, LogFormat format, TuneSettings s, Action<int, int>? progress = null, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(s.Budget, 1);
        var (rows, total, malformed) = Load(path, format, s, ct);
        if (total == 0)
        {
            throw new InvalidDataException("no examples to tune on");
        }

        var configurations = Sample(s);
        var rungs = 0;
        for (var n = s.Budget; n > 1; n = (n + TuneSettings.Eta - 1) / TuneSettings.Eta)
        {
            rungs++;
        }

        // Rows per rung: all rows in the last, a third of that in the one before, and so on (at least 1 row).
        var trials = new List<TuneTrial>();
        var alive = new List<int>();
        for (var i = 0; i < configurations.Length; i++)
        {
            alive.Add(i);
        }

        var totalTrials = 0;
        for (var (n, r) = (s.Budget, 0); r <= rungs; n = (n + TuneSettings.Eta - 1) / TuneSettings.Eta, r++)
        {
            totalTrials += n;
        }

        var done = 0;
        progress?.Invoke(0, totalTrials);
        TuneTrial[] rung = [];
        for (var r = 0; r <= rungs; r++)
        {
            var prefix = Math.Max(1, total / Pow(TuneSettings.Eta, rungs - r));
            rung = new TuneTrial[alive.Count];
            var ids = alive.ToArray();
            var gate = new object();
            Parallel.For(0, ids.Length, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, s.Threads), CancellationToken = ct }, k =>
            {
                var (g, c) = configurations[ids[k]];
                var logLoss = Score(rows, prefix, s, g, c);
                rung[k] = new TuneTrial(ids[k], r, prefix, g, c, logLoss);
                lock (gate)
                {
                    progress?.Invoke(++done, totalTrials);
                }
            });

            // Best first; equal scores keep the lower trial id (the baseline wins a tie).
            Array.Sort(rung, static (a, b) => a.LogLoss != b.LogLoss ? a.LogLoss.CompareTo(b.LogLoss) : a.Id.CompareTo(b.Id));
            trials.AddRange(rung);
            var keep = (rung.Length + TuneSettings.Eta - 1) / TuneSettings.Eta;
            alive.Clear();
            for (var k = 0; k < keep; k++)
            {
                alive.Add(rung[k].Id);
            }
        }

        return new TuneResult(trials, rung[0], total, malformed);
    }

    private static long Pow(int b, int e)
    {
        long v = 1;
        for (var i = 0; i < e; i++)
        {
            v *= b;
        }

        return v;
    }

    private static (FtrlParameters Global, FtrlParameters Campaign)[] Sample(TuneSettings s)
    {
        var result = new (FtrlParameters, FtrlParameters)[s.Budget];
        var baseline = s.Baseline;
        result[0] = (baseline.Global, baseline.Campaign);
        var random = new Random(unchecked((int)s.Seed ^ (int)(s.Seed >> 32)));
        Span<double> v = stackalloc double[Ranges.Length];
        for (var i = 1; i < result.Length; i++)
        {
            for (var k = 0; k < Ranges.Length; k++)
            {
                var (low, high) = Ranges[k];
                v[k] = Round3(Math.Exp(Math.Log(low) + (random.NextDouble() * (Math.Log(high) - Math.Log(low)))));
            }

            result[i] = (
                new FtrlParameters(v[0], baseline.Global.Beta, v[1], v[2]),
                new FtrlParameters(v[3], baseline.Campaign.Beta, v[4], v[5]));
        }

        return result;
    }

    /// <summary>Three significant digits, so that the snippet reads as a person would write it.</summary>
    private static double Round3(double x)
    {
        var digits = 2 - (int)Math.Floor(Math.Log10(x));
        return Math.Round(x, Math.Clamp(digits, 0, 15));
    }

    /// <summary>Progressive log loss of a fresh model over the first <paramref name="prefix"/> rows, as eval learns them.</summary>
    private static double Score(List<EncodedChunk> rows, long prefix, TuneSettings s, FtrlParameters global, FtrlParameters campaignParameters)
    {
        var model = new GlmixModel(s.Spec.Bits, global, campaignParameters, s.Baseline.CampaignAdmission);
        var metrics = new LogLossSum();
        long seen = 0;
        foreach (var chunk in rows)
        {
            for (var i = 0; i < chunk.Count && seen < prefix; i++, seen++)
            {
                var campaign = chunk.HasCampaign[i] ? model.CampaignFor(chunk.CampaignKeys[i]) : null;
                var label = chunk.Labels[i];
                var weight = chunk.Weights[i];
                var p = GlmixSpans.Learn(model.Global, campaign, chunk.GlobalIndices(i), chunk.GlobalValues(i), chunk.CampaignIndices(i), chunk.CampaignValues(i), label, weight);
                metrics.Add(p, label > 0 ? 1 : 0, weight);
            }
        }

        return metrics.Value;
    }

    private static (List<EncodedChunk> Rows, long Total, long Malformed) Load(string path, LogFormat format, TuneSettings s, CancellationToken ct)
    {
        using var reader = ExampleReaders.OpenFile(path, format, s.Spec, new ReaderOptions { Strict = s.Strict });
        var encoder = new FeatureEncoder(s.Spec);
        var row = new RawRow(s.Spec.Fields.Length);
        var x = new EncodedExample();
        var chunks = new List<EncodedChunk>();
        EncodedChunk? chunk = null;
        long total = 0;
        while (reader.TryRead(row))
        {
            if (chunk is null || chunk.IsFull)
            {
                ct.ThrowIfCancellationRequested();
                chunk = new EncodedChunk();
                chunks.Add(chunk);
            }

            encoder.Encode(row, x);
            chunk.Add(x, row.Label, row.Weight, reader.LineNumber);
            total++;
        }

        return (chunks, total, reader.Statistics.MalformedLines);
    }

    /// <summary>The weighted mean log loss, summed as <see cref="MetricsAccumulator"/> sums it (so equal to eval's figure).</summary>
    private sealed class LogLossSum
    {
        private double _sum;
        private double _weight;

        public double Value => _weight > 0 ? _sum / _weight : double.NaN;

        public void Add(double p, int label, float weight)
        {
            _sum += weight * LogLoss.Of(p, label);
            _weight += weight;
        }
    }
}
