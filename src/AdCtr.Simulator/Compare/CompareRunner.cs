using System.Diagnostics;
using AdCtr.Learning.Evaluation;
using AdCtr.Learning.Features;
using AdCtr.Simulator.Evaluation;

namespace AdCtr.Simulator.Compare;

/// <summary>The result of one strategy.</summary>
public sealed record StrategyResult(
    string Name,
    BinaryMetrics Total,
    TruthMetrics TotalTruth,
    IReadOnlyList<WindowMetrics> EvalWindows,
    IReadOnlyList<WindowMetrics> TableWindows,
    ReliabilityBin[] Reliability,
    int Retrains,
    int UnconvergedRetrains,
    double TrainSeconds,
    double Seconds,
    double MaxTrainSeconds = 0)
{
    /// <summary>Mean seconds per batch training (0 without one).</summary>
    public double SecondsPerRetrain => Retrains > 0 ? TrainSeconds / Retrains : 0;

    public double LogLossGap => Total.LogLoss - TotalTruth.OracleLogLoss;
}

/// <summary>The result of a comparison.</summary>
public sealed record CompareResult(
    string Source,
    bool RowClock,
    bool HasTruth,
    long Examples,
    long ScoredExamples,
    double StreamHours,
    long PeakHistoryExamples,
    double Seconds,
    double EncodeSeconds,
    CompareSettings Settings,
    IReadOnlyList<StrategyResult> Strategies,
    long PeakResidentBytes = 0);

/// <summary>
/// Runs several strategies side by side over one stream (<c>adctr-sim compare</c>). Each example is read and
/// encoded once into a block (<see cref="ExampleBlock"/>); the strategies then process the block in parallel
/// (each owns only its model and its scores, and reads the shared block and history), and the block joins the
/// history that the batch strategies train from, which keeps only the last W hours. Results do not depend on
/// the number of threads.
/// </summary>
public static class CompareRunner
{
    /// <summary>Number of groups of the reliability diagrams.</summary>
    public const int ReliabilityGroups = 20;

    public static CompareResult Run(ICompareSource source, CompareSettings settings, Action<long>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        var spec = settings.Spec;
        var encoder = new FeatureEncoder(spec);
        var strategies = new CompareStrategy[settings.Strategies.Count];
        for (var s = 0; s < strategies.Length; s++)
        {
            strategies[s] = CompareStrategy.Create(settings.Strategies[s], settings, encoder.BiasIndex);
        }

        var row = new RawRow(spec.Fields.Length);
        var x = new EncodedExample();
        var combined = new FeatureVector();
        var fields = spec.Fields.Length;
        var history = new ExampleHistory(settings.BlockSize, fields);
        var fieldValues = new float[fields];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = settings.Threads, CancellationToken = ct };
        var warmupEnd = settings.TrainWindowHours;
        var started = Stopwatch.GetTimestamp();
        long encodeTicks = 0, examples = 0, scored = 0;
        var hasTruth = false;
        var lastHours = 0.0;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var encodeStarted = Stopwatch.GetTimestamp();
            var block = history.Rent();
            while (!block.IsFull && source.TryRead(row, out var hours, out var truth))
            {
                encoder.Encode(row, x);
                OfflineEvaluator.Combine(x, combined, spec.Bits);
                var label = row.Label > 0 ? 1 : 0;
                OfflineEvaluator.FieldNumbers(spec, row, fieldValues);
                block.Add(x, combined, hours, label, row.Weight, truth, encoder.FieldHashes, fieldValues);
                hasTruth |= !double.IsNaN(truth);
                if (hours >= warmupEnd)
                {
                    scored++;
                }
            }

            encodeTicks += Stopwatch.GetTimestamp() - encodeStarted;
            if (block.Count == 0)
            {
                history.Return(block);
                break;
            }

            examples += block.Count;
            lastHours = block.LastHours;

            // Keep what a training window starting after the newest held example minus W can still need.
            history.Trim(history.LastHours - settings.TrainWindowHours);
            if (strategies.Length == 1 || settings.Threads == 1)
            {
                foreach (var strategy in strategies)
                {
                    strategy.Process(block, history, warmupEnd);
                }
            }
            else
            {
                Parallel.For(0, strategies.Length, parallel, s => strategies[s].Process(block, history, warmupEnd));
            }

            history.Append(block);
            progress?.Invoke(examples);
        }

        var results = new StrategyResult[strategies.Length];
        for (var s = 0; s < strategies.Length; s++)
        {
            var st = strategies[s];
            st.Score.Close();
            results[s] = new StrategyResult(
                st.Spec.Name,
                st.Score.Total(),
                st.Score.TotalTruth(),
                st.Score.Windows(0),
                st.Score.Windows(1),
                st.Score.Reliability(ReliabilityGroups),
                st.Retrains,
                st.UnconvergedRetrains,
                st.TrainSeconds,
                st.Seconds,
                st.MaxTrainSeconds);
        }

        return new CompareResult(
            source.Description,
            source.RowClock,
            hasTruth,
            examples,
            scored,
            lastHours,
            history.PeakExamples,
            Stopwatch.GetElapsedTime(started).TotalSeconds,
            Stopwatch.GetElapsedTime(0, encodeTicks).TotalSeconds,
            settings,
            results,
            PeakResidentBytes());
    }

    /// <summary>The process's peak resident set (VmHWM on Linux), or its peak working set elsewhere; bytes.</summary>
    public static long PeakResidentBytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    var kb = line["VmHWM:".Length..].Trim().Split(' ')[0];
                    return long.Parse(kb, System.Globalization.CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }

        return Process.GetCurrentProcess().PeakWorkingSet64;
    }
}
