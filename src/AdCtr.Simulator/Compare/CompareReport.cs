using System.Globalization;
using System.Text;

namespace AdCtr.Simulator.Compare;

/// <summary>
/// Writes a comparison to a directory: <c>report.md</c> (settings, totals, one row per table window and
/// strategy, the charts), <c>totals.csv</c>, <c>windows.csv</c> (eval windows), <c>table.csv</c> (the
/// Markdown table's windows), <c>ne.svg</c> (NE per eval window per strategy) and <c>reliability.svg</c>.
/// </summary>
public static class CompareReport
{
    public const string MarkdownFile = "report.md";
    public const string TotalsFile = "totals.csv";
    public const string WindowsFile = "windows.csv";
    public const string TableFile = "table.csv";
    public const string NeChartFile = "ne.svg";
    public const string ReliabilityChartFile = "reliability.svg";

    private const string CsvHeader = "strategy,window,start_hours,end_hours,examples,weight,clicks,ctr,mean_prediction,log_loss,ne,auc,calibration,mae,rmse,oracle_log_loss,log_loss_gap";

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Writes every file; returns their paths.</summary>
    public static IReadOnlyList<string> Write(CompareResult result, string directory, string? command = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        Directory.CreateDirectory(directory);
        var files = new List<string>();
        void Save(string name, string text)
        {
            var path = Path.Combine(directory, name);
            File.WriteAllText(path, text, new UTF8Encoding(false));
            files.Add(path);
        }

        Save(MarkdownFile, Markdown(result, command));
        Save(TotalsFile, TotalsCsv(result));
        Save(WindowsFile, WindowsCsv(result, table: false));
        Save(TableFile, WindowsCsv(result, table: true));
        Save(NeChartFile, NeChart(result));
        Save(ReliabilityChartFile, ReliabilityChart(result));
        return files;
    }

    /// <summary>The totals as a Markdown table (also used by the command's console output and the README).</summary>
    public static string TotalsTable(CompareResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var sb = new StringBuilder();
        var truth = result.HasTruth;
        sb.Append("| strategy | log loss | NE | AUC | calibration |");
        sb.Append(truth ? " MAE vs truth | RMSE vs truth | log loss - oracle |" : string.Empty);
        sb.AppendLine(" retrains | train s | s per retrain (max) | total s |");
        sb.Append("|---|---:|---:|---:|---:|");
        sb.Append(truth ? "---:|---:|---:|" : string.Empty);
        sb.AppendLine("---:|---:|---:|---:|");
        foreach (var s in result.Strategies)
        {
            var m = s.Total;
            sb.Append(Inv, $"| {s.Name} | {F(m.LogLoss, 5)} | {F(m.NormalizedEntropy, 4)} | {F(m.Auc, 4)} | {F(m.CalibrationRatio, 3)} |");
            if (truth)
            {
                sb.Append(Inv, $" {F(s.TotalTruth.MeanAbsoluteError, 5)} | {F(s.TotalTruth.Rmse, 5)} | {F(s.LogLossGap, 5)} |");
            }

            var retrains = s.UnconvergedRetrains > 0 ? s.Retrains + " (" + s.UnconvergedRetrains + " unconverged)" : s.Retrains.ToString(Inv);
            var perRetrain = s.Retrains > 0 ? string.Create(Inv, $"{s.SecondsPerRetrain:F2} ({s.MaxTrainSeconds:F2})") : "-";
            sb.Append(Inv, $" {retrains} | {s.TrainSeconds:F1} | {perRetrain} | {s.Seconds:F1} |").AppendLine();
        }

        return sb.ToString();
    }

    public static string Markdown(CompareResult result, string? command)
    {
        ArgumentNullException.ThrowIfNull(result);
        var s = result.Settings;
        var unit = result.RowClock ? " (row clock: " + s.RowsPerHour.ToString("N0", Inv) + " rows per hour)" : string.Empty;
        var sb = new StringBuilder();
        sb.AppendLine("# Batch vs online: " + result.Source).AppendLine();
        if (command is not null)
        {
            sb.AppendLine("    " + command).AppendLine();
        }

        sb.AppendLine(Inv, $"- {result.Examples:N0} examples over {result.StreamHours:F1} hours{unit}; the first {s.TrainWindowHours:G} hours are the warm-up (learned, not scored), {result.ScoredExamples:N0} examples scored.");
        sb.AppendLine(Inv, $"- Strategies: {string.Join(", ", Names(result))}. Batch training window W = {s.TrainWindowHours:G} h, L-BFGS with L2 = {s.BatchL2:G}, at most {s.BatchMaxIterations} iterations; online FTRL-Proximal alpha = {s.Global.Alpha:G}, L1 = {s.Global.L1:G}, L2 = {s.Global.L2:G}; {s.Spec.Bits} hash bits.");
        sb.AppendLine(Inv, $"- Every prediction is progressive: made before the strategy learns the example (online) or retrains past it (batch).");
        sb.AppendLine(Inv, $"- Wall time {result.Seconds:F1} s ({result.Examples / Math.Max(result.Seconds, 1e-9):N0} examples/s), of which reading and encoding {result.EncodeSeconds:F1} s; at most {result.PeakHistoryExamples:N0} examples held for batch training; peak resident memory of the run (all strategies in one process) {result.PeakResidentBytes / 1048576.0:N0} MiB.");
        sb.AppendLine();
        sb.AppendLine("## Totals").AppendLine();
        sb.Append(TotalsTable(result)).AppendLine();
        sb.AppendLine("NE = log loss / entropy of the CTR of the scored set (He et al. 2014); calibration = sum of predictions / clicks." +
            (result.HasTruth ? " MAE and RMSE are between the prediction and the true click probability; log loss - oracle is the excess over predicting the truth (an estimate of the mean KL divergence)." : string.Empty) +
            " Train s = time in batch training; total s = scoring + online learning + training.");
        sb.AppendLine();
        sb.AppendLine("![NE over time](" + NeChartFile + ")").AppendLine();
        sb.AppendLine("![Reliability diagram](" + ReliabilityChartFile + ")").AppendLine();
        sb.AppendLine(Inv, $"## Per window ({s.TableWindowHours:G} h)").AppendLine();
        sb.Append("| window (h) | strategy | examples | CTR | log loss | NE | AUC | calibration |");
        sb.AppendLine(result.HasTruth ? " MAE | RMSE | log loss - oracle |" : string.Empty);
        sb.Append("|---|---|---:|---:|---:|---:|---:|---:|");
        sb.AppendLine(result.HasTruth ? "---:|---:|---:|" : string.Empty);
        var rows = Interleave(result, table: true);
        foreach (var (name, w) in rows)
        {
            var m = w.Metrics;
            sb.Append(Inv, $"| {w.StartHours:G}-{w.EndHours:G} | {name} | {m.Examples:N0} | {F(m.Ctr, 4)} | {F(m.LogLoss, 5)} | {F(m.NormalizedEntropy, 4)} | {F(m.Auc, 4)} | {F(m.CalibrationRatio, 3)} |");
            if (result.HasTruth)
            {
                sb.Append(Inv, $" {F(w.Truth.MeanAbsoluteError, 5)} | {F(w.Truth.Rmse, 5)} | {F(w.LogLossGap, 5)} |");
            }

            sb.AppendLine();
        }

        return sb.ToString();
    }

    public static string TotalsCsv(CompareResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var sb = new StringBuilder();
        sb.AppendLine("strategy,examples,weight,clicks,ctr,mean_prediction,log_loss,ne,auc,calibration,mae,rmse,oracle_log_loss,log_loss_gap,retrains,unconverged_retrains,train_seconds,seconds,seconds_per_retrain,max_retrain_seconds");
        foreach (var s in result.Strategies)
        {
            var m = s.Total;
            var t = s.TotalTruth;
            sb.AppendLine(Inv, $"{Csv(s.Name)},{m.Examples},{C(m.WeightSum)},{C(m.Clicks)},{C(m.Ctr)},{C(m.MeanPrediction)},{C(m.LogLoss)},{C(m.NormalizedEntropy)},{C(m.Auc)},{C(m.CalibrationRatio)},{C(t.MeanAbsoluteError)},{C(t.Rmse)},{C(t.OracleLogLoss)},{C(s.LogLossGap)},{s.Retrains},{s.UnconvergedRetrains},{C(s.TrainSeconds)},{C(s.Seconds)},{C(s.SecondsPerRetrain)},{C(s.MaxTrainSeconds)}");
        }

        return sb.ToString();
    }

    /// <summary>One line per window and strategy, windows in time order, strategies in the given order.</summary>
    public static string WindowsCsv(CompareResult result, bool table)
    {
        var sb = new StringBuilder();
        sb.AppendLine(CsvHeader);
        foreach (var (name, w) in Interleave(result, table))
        {
            var m = w.Metrics;
            var t = w.Truth;
            sb.AppendLine(Inv, $"{Csv(name)},{w.Index},{C(w.StartHours)},{C(w.EndHours)},{m.Examples},{C(m.WeightSum)},{C(m.Clicks)},{C(m.Ctr)},{C(m.MeanPrediction)},{C(m.LogLoss)},{C(m.NormalizedEntropy)},{C(m.Auc)},{C(m.CalibrationRatio)},{C(t.MeanAbsoluteError)},{C(t.Rmse)},{C(t.OracleLogLoss)},{C(w.LogLossGap)}");
        }

        return sb.ToString();
    }

    public static string NeChart(CompareResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var days = result.StreamHours > 72 && !result.RowClock;
        var series = new List<ChartSeries>();
        foreach (var s in result.Strategies)
        {
            var points = new List<(double, double)>(s.EvalWindows.Count);
            foreach (var w in s.EvalWindows)
            {
                var mid = (w.StartHours + w.EndHours) / 2;
                points.Add((days ? mid / 24 : mid, w.Metrics.NormalizedEntropy));
            }

            series.Add(new ChartSeries(s.Name, points));
        }

        var xLabel = result.RowClock
            ? "hours of the row clock (" + result.Settings.RowsPerHour.ToString("N0", Inv) + " rows per hour)"
            : days ? "days" : "hours";
        var title = "Normalized entropy per " + result.Settings.EvalWindowHours.ToString("G", Inv) + " h window (lower is better)";
        return SvgChart.Render(title, xLabel, "NE", series);
    }

    public static string ReliabilityChart(CompareResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var series = new List<ChartSeries>();
        foreach (var s in result.Strategies)
        {
            var points = new List<(double, double)>(s.Reliability.Length);
            foreach (var b in s.Reliability)
            {
                points.Add((b.MeanPredicted, b.ObservedRate));
            }

            series.Add(new ChartSeries(s.Name, points));
        }

        return SvgChart.Render(
            "Reliability: " + CompareRunner.ReliabilityGroups + " equal-weight groups of predictions",
            "mean predicted CTR",
            "observed CTR",
            series,
            diagonal: true,
            markers: true);
    }

    private static List<(string Name, WindowMetrics Window)> Interleave(CompareResult result, bool table)
    {
        var rows = new List<(string, WindowMetrics)>();
        foreach (var s in result.Strategies)
        {
            foreach (var w in table ? s.TableWindows : s.EvalWindows)
            {
                rows.Add((s.Name, w));
            }
        }

        // Stable: by window, then in strategy order.
        var order = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < result.Strategies.Count; i++)
        {
            order[result.Strategies[i].Name] = i;
        }

        rows.Sort((a, b) => a.Item2.Index != b.Item2.Index ? a.Item2.Index.CompareTo(b.Item2.Index) : order[a.Item1].CompareTo(order[b.Item1]));
        return rows;
    }

    private static List<string> Names(CompareResult result)
    {
        var names = new List<string>();
        foreach (var s in result.Strategies)
        {
            names.Add(s.Name);
        }

        return names;
    }

    private static string F(double v, int digits) => double.IsFinite(v) ? v.ToString("F" + digits, Inv) : "-";

    private static string C(double v) => double.IsFinite(v) ? v.ToString("R", Inv) : string.Empty;

    private static string Csv(string text) =>
        text.AsSpan().IndexOfAny(",\"\n\r") >= 0 ? "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : text;
}
