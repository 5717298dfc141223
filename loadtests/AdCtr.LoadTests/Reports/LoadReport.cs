using System.Text.Json;
using System.Text.Json.Serialization;
using AdCtr.LoadTests.Engine;

namespace AdCtr.LoadTests.Reports;

/// <summary>The result of one scenario.</summary>
public sealed record ScenarioReport
{
    public required string Name { get; init; }

    public string Description { get; init; } = "";

    /// <summary>"server" or "baseline".</summary>
    public required string Role { get; init; }

    public required string TargetUrl { get; init; }

    /// <summary>"open" or "closed".</summary>
    public required string Model { get; init; }

    public bool Smoke { get; init; }

    public double SloP99Ms { get; init; }

    public double MaxErrorRate { get; init; }

    public int Connections { get; init; }

    /// <summary>Requests per kind in the pre-built sequence (the realised mix).</summary>
    public IReadOnlyDictionary<string, int> Mix { get; init; } = new Dictionary<string, int>();

    public List<StepStats> Steps { get; init; } = [];

    /// <summary>Highest rate (requests/s) whose step passed the SLO, the steps before it passing too; null if none.</summary>
    public double? MaxPassingRate { get; set; }

    /// <summary><see cref="MaxPassingRate"/> divided by the baseline's, when a baseline was measured in the same session.</summary>
    public double? RatioToBaseline { get; set; }

    /// <summary>Why the step search ended: all steps passed, SLO exceeded, errors, duration cap, or cancelled.</summary>
    public string StopReason { get; set; } = "";

    /// <summary>Set when the scenario could not run (target not ready, setup failed).</summary>
    public string? Error { get; set; }

    public double ElapsedSeconds { get; set; }

    /// <summary>The machine's load average (1, 5, 15 min) when the scenario started and ended: other work on the machine skews the figures.</summary>
    public string LoadAverage { get; set; } = "";
}

/// <summary>A whole session: the scenarios, the baseline and the machine.</summary>
public sealed record SuiteReport
{
    public required DateTimeOffset StartedAt { get; init; }

    public required string Machine { get; init; }

    public string Generator { get; init; } = "";

    public double? BaselineMaxRate { get; set; }

    public List<ScenarioReport> Scenarios { get; init; } = [];

    /// <summary>
    /// Computes the ratios to the baseline: the highest passing rate of the first baseline scenario of this session,
    /// else <paramref name="earlierBaseline"/> (from an earlier report, <c>--baseline-report</c>).
    /// </summary>
    public void ApplyBaseline(double? earlierBaseline = null)
    {
        BaselineMaxRate = earlierBaseline is > 0 ? earlierBaseline : null;
        foreach (var s in Scenarios)
        {
            if (s.Role == "baseline" && s.Error is null && !s.Smoke && s.MaxPassingRate is > 0)
            {
                BaselineMaxRate = s.MaxPassingRate;
                break;
            }
        }

        if (BaselineMaxRate is not { } baseline)
        {
            return;
        }

        foreach (var s in Scenarios)
        {
            s.RatioToBaseline = s.MaxPassingRate / baseline;
            for (var i = 0; i < s.Steps.Count; i++)
            {
                s.Steps[i] = s.Steps[i] with { RatioToBaseline = s.Steps[i].AchievedRate / baseline };
            }
        }
    }

    /// <summary>The 1/5/15-minute load averages from /proc/loadavg, or "n/a" where there is none.</summary>
    public static string ReadLoadAverage()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return parts.Length >= 3 ? parts[0] + " " + parts[1] + " " + parts[2] : "n/a";
        }
        catch (IOException)
        {
            return "n/a";
        }
        catch (UnauthorizedAccessException)
        {
            return "n/a";
        }
    }

    public static string MachineDescription() =>
        FormattableString.Invariant($"{Environment.ProcessorCount} logical cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}");

    public string ToJson() => JsonSerializer.Serialize(this, ReportJsonContext.Default.SuiteReport);

    public static SuiteReport FromJson(string json) =>
        JsonSerializer.Deserialize(json, ReportJsonContext.Default.SuiteReport) ?? throw new InvalidDataException("empty report");
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(SuiteReport))]
internal sealed partial class ReportJsonContext : JsonSerializerContext;
