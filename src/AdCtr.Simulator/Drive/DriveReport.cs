using System.Globalization;
using System.Text;
using System.Text.Json;

namespace AdCtr.Simulator.Drive;

/// <summary>The end-of-run report of a drive: a two-column text table, or one JSON object.</summary>
public static class DriveReport
{
    /// <summary>The table (Markdown, so it can be pasted into a README).</summary>
    public static string Table(DriveResult r, string server)
    {
        ArgumentNullException.ThrowIfNull(r);
        var q = r.Quality;
        var rows = new List<(string, string)>
        {
            ("server", server),
            ("scenario, seed", r.Scenario + ", " + I(r.Seed)),
            ("rate, duration, in flight", (r.Settings.Rate > 0 ? F(r.Settings.Rate, "0.#") + " req/s" : "max") + ", " + F(r.Settings.Duration.TotalSeconds, "0.#") + " s, " + I(r.Settings.MaxInFlight)),
            ("seconds (to last answer / last event)", F(r.Seconds, "0.00") + " / " + F(r.SecondsWithEvents, "0.00")),
            ("requests sent", I(r.Sent) + (r.WorldEnded ? " (the scenario ended)" : string.Empty)),
            ("served", I(r.Served) + " (" + F(r.Served / Math.Max(r.Seconds, 1e-9), "0") + "/s)"),
            ("errors", r.ErrorCount == 0 ? "0" : I(r.ErrorCount) + " (" + Kinds(r.Errors) + ")"),
            ("latency p50 / p90 / p99 / max (ms, from due time)", F(r.Latency.P50, "0.00") + " / " + F(r.Latency.P90, "0.00") + " / " + F(r.Latency.P99, "0.00") + " / " + F(r.Latency.Max, "0.00")),
            ("impressions (1 slot)", I(q.Impressions)),
            ("clicks, realised CTR", I(q.Clicks) + ", " + F(q.Ctr, "0.0000")),
            ("mean prediction / mean true CTR of shown ads", F(q.MeanPrediction, "0.0000") + " / " + F(q.MeanTrueCtr, "0.0000")),
            ("log loss vs clicks: server / truth (oracle)", F(q.LogLoss, "0.00000") + " / " + F(q.OracleLogLoss, "0.00000")),
            ("expected log loss vs true p: server / truth", F(q.ExpectedLogLoss, "0.00000") + " / " + F(q.OracleExpectedLogLoss, "0.00000")),
            ("calibration: sum pred / sum true p, / clicks", F(q.CalibrationVsTruth, "0.000") + ", " + F(q.CalibrationVsClicks, "0.000")),
            ("AUC vs clicks, mean abs(pred - true p)", F(q.Auc, "0.0000") + ", " + F(q.MeanAbsoluteError, "0.00000")),
            ("revenue (CPC: sum of bids of clicks)", F(q.Revenue, "0.00")),
            ("expected revenue: shown / oracle", F(q.ExpectedRevenue, "0.00") + " / " + F(q.OracleExpectedRevenue, "0.00")),
            ("regret (oracle - shown, expected)", F(q.Regret, "0.00") + " (" + F(q.OracleExpectedRevenue > 0 ? 100 * q.Regret / q.OracleExpectedRevenue : double.NaN, "0.0") + " %; oracle's pick " + I(q.OracleAgreements) + " times)"),
            ("events: impressions / clicks sent", I(r.ImpressionsSent) + " / " + I(r.ClicksSent) + " (" + I(r.ClicksFlushedEarly) + " flushed early at the end)"),
            ("clicks beyond the attribution window (not sent)", I(r.ClicksBeyondWindow)),
            ("events accepted (posts)", I(r.EventsAccepted) + " (" + I(r.EventPosts) + " posts)"),
            ("examples made at once: positives / negatives", I(r.EventPositives) + " / " + I(r.EventNegatives)),
            ("events rejected", Kinds(r.EventsRejected)),
            ("events lost in failed posts", Kinds(r.EventsFailed)),
        };

        var width = 0;
        foreach (var (name, _) in rows)
        {
            width = Math.Max(width, name.Length);
        }

        var sb = new StringBuilder();
        sb.Append("| ").Append("metric".PadRight(width)).Append(" | value |\n");
        sb.Append("|-").Append(new string('-', width)).Append("-|-------|\n");
        foreach (var (name, value) in rows)
        {
            sb.Append("| ").Append(name.PadRight(width)).Append(" | ").Append(value).Append(" |\n");
        }

        return sb.ToString();
    }

    /// <summary>One JSON object (NaN as null).</summary>
    public static void WriteJson(DriveResult r, Stream output, string server)
    {
        ArgumentNullException.ThrowIfNull(r);
        var q = r.Quality;
        using var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = false });
        w.WriteStartObject();
        w.WriteString("server", server);
        w.WriteString("scenario", r.Scenario);
        w.WriteNumber("seed", r.Seed);
        w.WriteNumber("rate", r.Settings.Rate);
        w.WriteNumber("durationSeconds", r.Settings.Duration.TotalSeconds);
        w.WriteNumber("maxInFlight", r.Settings.MaxInFlight);
        w.WriteNumber("clickDelayScale", r.Settings.ClickDelayScale);
        w.WriteNumber("attributionWindowSeconds", r.Settings.AttributionWindow.TotalSeconds);
        Number(w, "seconds", r.Seconds);
        Number(w, "secondsWithEvents", r.SecondsWithEvents);
        w.WriteBoolean("scenarioEnded", r.WorldEnded);
        w.WriteNumber("sent", r.Sent);
        w.WriteNumber("served", r.Served);
        Counts(w, "errors", r.Errors);
        w.WriteStartObject("latencyMs");
        w.WriteNumber("count", r.Latency.Count);
        Number(w, "mean", r.Latency.Mean);
        Number(w, "p50", r.Latency.P50);
        Number(w, "p90", r.Latency.P90);
        Number(w, "p99", r.Latency.P99);
        Number(w, "max", r.Latency.Max);
        w.WriteEndObject();
        w.WriteNumber("impressions", q.Impressions);
        w.WriteNumber("clicks", q.Clicks);
        Number(w, "ctr", q.Ctr);
        Number(w, "meanPrediction", q.MeanPrediction);
        Number(w, "meanTrueCtr", q.MeanTrueCtr);
        Number(w, "logLoss", q.LogLoss);
        Number(w, "oracleLogLoss", q.OracleLogLoss);
        Number(w, "expectedLogLoss", q.ExpectedLogLoss);
        Number(w, "oracleExpectedLogLoss", q.OracleExpectedLogLoss);
        Number(w, "calibrationVsTruth", q.CalibrationVsTruth);
        Number(w, "calibrationVsClicks", q.CalibrationVsClicks);
        Number(w, "auc", q.Auc);
        Number(w, "meanAbsoluteError", q.MeanAbsoluteError);
        Number(w, "revenue", q.Revenue);
        Number(w, "expectedRevenue", q.ExpectedRevenue);
        Number(w, "oracleExpectedRevenue", q.OracleExpectedRevenue);
        Number(w, "regret", q.Regret);
        w.WriteNumber("oracleAgreements", q.OracleAgreements);
        w.WriteStartObject("events");
        w.WriteNumber("impressionsSent", r.ImpressionsSent);
        w.WriteNumber("clicksSent", r.ClicksSent);
        w.WriteNumber("clicksOnTime", r.ClicksOnTime);
        w.WriteNumber("clicksFlushedEarly", r.ClicksFlushedEarly);
        w.WriteNumber("clicksBeyondWindow", r.ClicksBeyondWindow);
        w.WriteNumber("posts", r.EventPosts);
        w.WriteNumber("postFailures", r.EventPostFailures);
        w.WriteNumber("accepted", r.EventsAccepted);
        w.WriteNumber("positives", r.EventPositives);
        w.WriteNumber("negatives", r.EventNegatives);
        Counts(w, "rejected", r.EventsRejected);
        Counts(w, "failed", r.EventsFailed);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void Number(Utf8JsonWriter w, string name, double value)
    {
        if (double.IsFinite(value))
        {
            w.WriteNumber(name, value);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static void Counts(Utf8JsonWriter w, string name, IReadOnlyDictionary<string, long> counts)
    {
        w.WriteStartObject(name);
        foreach (var (key, value) in counts)
        {
            w.WriteNumber(key, value);
        }

        w.WriteEndObject();
    }

    private static string Kinds(IReadOnlyDictionary<string, long> counts)
    {
        if (counts.Count == 0)
        {
            return "0";
        }

        var parts = new List<string>(counts.Count);
        foreach (var (key, value) in counts)
        {
            parts.Add(key + " " + I(value));
        }

        return string.Join(", ", parts);
    }

    private static string I(long v) => v.ToString("N0", CultureInfo.InvariantCulture);

    private static string I(ulong v) => v.ToString(CultureInfo.InvariantCulture);

    private static string F(double v, string format) => double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "n/a";
}
