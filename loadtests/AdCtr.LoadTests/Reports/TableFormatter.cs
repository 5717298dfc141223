using System.Globalization;
using System.Text;
using AdCtr.LoadTests.Engine;

namespace AdCtr.LoadTests.Reports;

/// <summary>The step table, as fixed-width console text and as Markdown.</summary>
public static class TableFormatter
{
    private static readonly string[] Headers =
        ["phase", "load", "offered/s", "achieved/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "svc p99 ms", "lag p99 ms", "gen cpu %", "errors", "x baseline", "SLO"];

    private static readonly int[] Widths = [7, 30, 10, 11, 8, 8, 8, 9, 9, 10, 10, 9, 12, 10, 4];

    public static string ConsoleHeader()
    {
        var sb = new StringBuilder();
        for (var i = 0; i < Headers.Length; i++)
        {
            sb.Append(Headers[i].PadLeft(Widths[i])).Append(' ');
        }

        return sb.ToString().TrimEnd();
    }

    public static string ConsoleRow(StepStats step)
    {
        ArgumentNullException.ThrowIfNull(step);
        var cells = Cells(step);
        var sb = new StringBuilder();
        for (var i = 0; i < cells.Length; i++)
        {
            sb.Append(cells[i].PadLeft(Widths[i])).Append(' ');
        }

        var row = sb.ToString().TrimEnd();
        return step.Freshness is { } f ? row + Environment.NewLine + "   freshness: " + FreshnessLine(f) : row;
    }

    /// <summary>One line of a step's freshness figures, for the console.</summary>
    public static string FreshnessLine(FreshnessStats f)
    {
        ArgumentNullException.ThrowIfNull(f);
        var c = FreshnessCells(f);
        return $"{c[0]} probes, {c[1]} reflected on the first check, {c[2]} not reflected, errors {c[3]}; ack p50 {c[4]} p99 {c[5]} ms; lag p50 {c[6]} p99 {c[7]} max {c[8]} ms";
    }

    private static readonly string[] FreshnessHeaders =
        ["phase", "load", "probes", "reflected 1st check", "not reflected", "probe errors", "ack p50 ms", "ack p99 ms", "lag p50 ms", "lag p99 ms", "lag max ms"];

    private static string[] FreshnessCells(FreshnessStats f) =>
    [
        f.Probes.ToString(CultureInfo.InvariantCulture),
        f.ReflectedOnFirstCheck.ToString(CultureInfo.InvariantCulture),
        f.NotReflected.ToString(CultureInfo.InvariantCulture),
        f.Errors == 0 ? "0" : string.Join(" ", f.ErrorsByKind.Select(kv => kv.Key + ":" + kv.Value.ToString(CultureInfo.InvariantCulture))),
        Num(f.Ack.P50, "0.00"),
        Num(f.Ack.P99, "0.00"),
        Num(f.Lag.P50, "0.00"),
        Num(f.Lag.P99, "0.00"),
        Num(f.Lag.Max, "0.00"),
    ];

    private static void AppendFreshness(StringBuilder sb, ScenarioReport s)
    {
        if (!s.Steps.Any(step => step.Freshness is not null))
        {
            return;
        }

        sb.AppendLine().AppendLine("Freshness probes (sequential, separate from the load and not counted in the table above): one label-1 example of a new campaign, " +
            "\"ack\" from its send to its acknowledgement, then explain calls until the campaign part shows it; \"lag\" from the acknowledgement to the end of the first response that does.");
        sb.AppendLine().Append('|');
        foreach (var h in FreshnessHeaders)
        {
            sb.Append(' ').Append(h).Append(" |");
        }

        sb.AppendLine().Append('|');
        for (var i = 0; i < FreshnessHeaders.Length; i++)
        {
            sb.Append(i <= 1 || i == 5 ? "---|" : "---:|");
        }

        sb.AppendLine();
        foreach (var step in s.Steps)
        {
            if (step.Freshness is not { } f)
            {
                continue;
            }

            sb.Append("| ").Append(step.Phase).Append(" | ").Append(step.Simulation).Append(" |");
            foreach (var cell in FreshnessCells(f))
            {
                sb.Append(' ').Append(cell).Append(" |");
            }

            sb.AppendLine();
        }
    }

    public static string Markdown(SuiteReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var sb = new StringBuilder();
        sb.AppendLine("# AdCtr load-test report").AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"- started: {report.StartedAt:u}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- machine: {report.Machine}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- generator: {report.Generator}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- baseline max rate (HTTP ceiling of this machine with this generator): {Rate(report.BaselineMaxRate)}");
        sb.AppendLine();
        sb.AppendLine("| scenario | role | model | max passing rate/s | x baseline | stop reason |");
        sb.AppendLine("|---|---|---|---:|---:|---|");
        foreach (var s in report.Scenarios)
        {
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {s.Name} | {s.Role} | {s.Model}{(s.Smoke ? " (smoke)" : "")} | {Rate(s.MaxPassingRate)} | {Ratio(s.RatioToBaseline)} | {s.Error ?? s.StopReason} |");
        }

        foreach (var s in report.Scenarios)
        {
            sb.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"## {s.Name}").AppendLine();
            if (s.Description.Length > 0)
            {
                sb.AppendLine(s.Description).AppendLine();
            }

            sb.AppendLine(CultureInfo.InvariantCulture, $"Target {s.TargetUrl}, {s.Model} model, SLO p99 <= {s.SloP99Ms} ms and errors < {s.MaxErrorRate:P2}, {s.Connections} connections, {s.ElapsedSeconds:0.0} s, load average {s.LoadAverage}.");
            sb.AppendLine(CultureInfo.InvariantCulture, $"Mix: {string.Join(", ", s.Mix.Select(kv => kv.Key + " " + kv.Value))}.");
            if (s.Error is not null)
            {
                sb.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"**Not run: {s.Error}**");
                continue;
            }

            sb.AppendLine().Append('|');
            foreach (var h in Headers)
            {
                sb.Append(' ').Append(h).Append(" |");
            }

            sb.AppendLine().Append('|');
            for (var i = 0; i < Headers.Length; i++)
            {
                sb.Append(i <= 1 || i == 12 ? "---|" : "---:|");
            }

            sb.AppendLine();
            foreach (var step in s.Steps)
            {
                sb.Append('|');
                foreach (var cell in Cells(step))
                {
                    sb.Append(' ').Append(cell).Append(" |");
                }

                sb.AppendLine();
            }

            AppendFreshness(sb, s);
        }

        sb.AppendLine().AppendLine("Latency is measured from each request's intended send time (open model), so queueing in the generator or the server is counted; " +
            "\"svc p99\" is measured from the actual send instead (what a closed-loop tool reports), \"lag p99\" is how late the generator sent, and \"gen cpu %\" the generator's CPU (100 = one core). Percentiles: Hyndman-Fan type 7 over every successful request (Perfolizer).");
        return sb.ToString();
    }

    private static string[] Cells(StepStats s)
    {
        var errors = s.Errors == 0 ? "0" : string.Join(" ", s.ErrorsByKind.Select(kv => kv.Key + ":" + kv.Value.ToString(CultureInfo.InvariantCulture)));
        return
        [
            s.Phase,
            s.Simulation,
            s.Copies is { } c ? c.ToString(CultureInfo.InvariantCulture) + " users" : Num(s.OfferedRate, "0"),
            Num(s.AchievedRate, "0"),
            Num(s.Latency.P50, "0.00"),
            Num(s.Latency.P90, "0.00"),
            Num(s.Latency.P99, "0.00"),
            Num(s.Latency.P999, "0.00"),
            Num(s.Latency.Max, "0.00"),
            Num(s.Service.P99, "0.00"),
            Num(s.SendLag.P99, "0.00"),
            Num(s.GeneratorCpuPercent ?? double.NaN, "0"),
            errors,
            Ratio(s.RatioToBaseline),
            s.Phase == "warmup" ? "-" : s.Phase == "retried" ? "fail, retried" : s.Passed ? "pass" : "FAIL",
        ];
    }

    private static string Num(double v, string format) => double.IsNaN(v) ? "-" : v.ToString(format, CultureInfo.InvariantCulture);

    private static string Rate(double? v) => v is { } r ? r.ToString("0", CultureInfo.InvariantCulture) : "-";

    private static string Ratio(double? v) => v is { } r ? r.ToString("0.00", CultureInfo.InvariantCulture) : "-";
}
