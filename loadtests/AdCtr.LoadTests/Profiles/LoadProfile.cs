using System.Text.Json;
using System.Text.Json.Serialization;

namespace AdCtr.LoadTests.Profiles;

/// <summary>A scenario profile (config/loadtests/*.json): what to send, and the stages of load.</summary>
public sealed record LoadProfile
{
    public required string Name { get; set; }

    public string Description { get; set; } = "";

    /// <summary>"server" (the AdCtr server, <c>--server-url</c>) or "baseline" (the echo app, <c>--baseline-url</c>).</summary>
    public string Target { get; set; } = "server";

    /// <summary>Seed of the body generator: the same profile always produces the same bytes.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>"open" (constant arrival rate, the default) or "closed" (N concurrent users).</summary>
    public string Model { get; set; } = "open";

    public double SloP99Ms { get; set; } = 10;

    public double MaxErrorRate { get; set; } = 0.001;

    /// <summary>Cap on the whole scenario, setup and drains included; steps that would not fit are not run.</summary>
    public double MaxTotalSeconds { get; set; } = 180;

    public int RequestTimeoutMs { get; set; } = 2000;

    /// <summary>Connection pool size; 0 sizes it from the highest rate and the SLO.</summary>
    public int MaxConnections { get; set; }

    public WarmupSpec Warmup { get; set; } = new();

    public StepsSpec Steps { get; set; } = new();

    public ClosedSpec Closed { get; set; } = new();

    public SmokeSpec Smoke { get; set; } = new();

    public DataSpec Data { get; set; } = new();

    /// <summary>Freshness probes during each step (server targets); null for none.</summary>
    public FreshnessSpec? Freshness { get; set; }

    /// <summary>The request mix; weights are relative.</summary>
    public IReadOnlyList<MixEntry> Mix { get; set; } = [];

    public static LoadProfile Load(string path)
    {
        var json = File.ReadAllBytes(path);
        var profile = JsonSerializer.Deserialize(json, ProfileJsonContext.Default.LoadProfile)
            ?? throw new InvalidDataException(path + ": empty profile");
        profile.Validate(path);
        return profile;
    }

    public void Validate(string source)
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(Name)) problems.Add("name is required");
        if (Target is not ("server" or "baseline")) problems.Add("target must be 'server' or 'baseline'");
        if (Model is not ("open" or "closed")) problems.Add("model must be 'open' or 'closed'");
        if (SloP99Ms <= 0) problems.Add("sloP99Ms must be positive");
        if (MaxErrorRate is <= 0 or > 1) problems.Add("maxErrorRate must be in (0, 1]");
        if (MaxTotalSeconds is <= 0 or > 3600) problems.Add("maxTotalSeconds must be in (0, 3600]");
        if (RequestTimeoutMs is <= 0 or > 60_000) problems.Add("requestTimeoutMs must be in (0, 60000]");
        if (Model == "open" && (Steps.Rates.Count == 0 || Steps.Rates.Any(r => r <= 0))) problems.Add("steps.rates must be positive");
        if (Model == "closed" && (Closed.Copies.Count == 0 || Closed.Copies.Any(c => c <= 0))) problems.Add("closed.copies must be positive");
        if (Steps.Retries is < 0 or > 3) problems.Add("steps.retries must be in [0, 3]");
        if (Steps.Seconds <= 0 || Closed.Seconds <= 0 || Smoke.Seconds <= 0 || Smoke.Rate <= 0) problems.Add("stage durations and the smoke rate must be positive");
        if (Freshness is { } f && (f.IntervalMs is < 10 or > 60_000 || f.MaxChecks is < 1 or > 100 || f.RetryDelayMs is < 0 or > 1000))
        {
            problems.Add("freshness: intervalMs must be in [10, 60000], maxChecks in [1, 100], retryDelayMs in [0, 1000]");
        }

        if (Mix.Count == 0) problems.Add("mix must name at least one request kind");
        foreach (var entry in Mix)
        {
            if (entry.Kind is not ("predict" or "examples" or "events" or "impressions" or "clicks" or "echo")) problems.Add("unknown mix kind '" + entry.Kind + "'");
            if (entry.Weight <= 0) problems.Add("mix weights must be positive");
        }

        if (problems.Count > 0)
        {
            throw new InvalidDataException(source + ": " + string.Join("; ", problems));
        }
    }
}

/// <summary>Warm-up: a ramp from 0 to <see cref="Rate"/> (open model) or the first copies count (closed), not judged.</summary>
public sealed record WarmupSpec
{
    public int Rate { get; set; } = 200;

    public double Seconds { get; set; } = 5;
}

/// <summary>Steps: <c>Inject(rate, 1s, seconds)</c> for each rate, in increasing order (open model); <see cref="Retries"/> applies to both models.</summary>
public sealed record StepsSpec
{
    public IReadOnlyList<int> Rates { get; set; } = [250, 500, 1000, 2000, 4000];

    public double Seconds { get; set; } = 10;

    /// <summary>How many times a failing step is run again before the search stops (default 1; 0 for none).</summary>
    public int Retries { get; set; } = 1;
}

/// <summary>Closed-model steps: <c>KeepConstant(copies, seconds)</c> for each count.</summary>
public sealed record ClosedSpec
{
    public IReadOnlyList<int> Copies { get; set; } = [1, 2, 4, 8, 16, 32];

    public double Seconds { get; set; } = 10;
}

/// <summary>The smoke stage (<c>--smoke</c>): a low rate for a short time; any error fails.</summary>
public sealed record SmokeSpec
{
    public int Rate { get; set; } = 20;

    public double Seconds { get; set; } = 2;
}

/// <summary>The synthetic population the bodies are drawn from.</summary>
public sealed record DataSpec
{
    public int Users { get; set; } = 20_000;

    public int Campaigns { get; set; } = 200;

    public int AdsPerCampaign { get; set; } = 8;

    public int Advertisers { get; set; } = 40;

    /// <summary>Distinct request bodies in the sequence (they are reused cyclically).</summary>
    public int PoolSize { get; set; } = 2048;

    /// <summary>Base click probability used for example labels and for clicks on impressions.</summary>
    public double ClickRate { get; set; } = 0.02;

    /// <summary>Impression ids obtained from the server by predict calls before the run (events and mixed).</summary>
    public int HarvestImpressions { get; set; } = 6000;
}

/// <summary>
/// The freshness probe: every <see cref="IntervalMs"/> of a step, one example of a brand-new campaign is sent and
/// then explained until the prediction shows it (at most <see cref="MaxChecks"/> checks,
/// <see cref="RetryDelayMs"/> apart).
/// </summary>
public sealed record FreshnessSpec
{
    public int IntervalMs { get; set; } = 500;

    public int MaxChecks { get; set; } = 20;

    public int RetryDelayMs { get; set; } = 5;
}

/// <summary>One request kind in the mix.</summary>
public sealed record MixEntry
{
    /// <summary>predict, examples, events, impressions, clicks or echo.</summary>
    public required string Kind { get; set; }

    public double Weight { get; set; } = 1;

    /// <summary>Candidates per predict (or echo) request.</summary>
    public int Candidates { get; set; } = 1;

    /// <summary>Lines per examples/events request, impressions per impressions request.</summary>
    public int Batch { get; set; } = 1;
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(LoadProfile))]
internal sealed partial class ProfileJsonContext : JsonSerializerContext;
