using System.ComponentModel.DataAnnotations;
using AdCtr.Learning.Ftrl;

namespace AdCtr.Server.Hosting;

/// <summary>FTRL-Proximal hyper-parameters as configuration (see <see cref="FtrlParameters"/>).</summary>
public sealed class FtrlOptions
{
    public double Alpha { get; set; } = 0.05;
    public double Beta { get; set; } = 1.0;
    public double L1 { get; set; } = 0.5;
    public double L2 { get; set; } = 1.0;

    public FtrlParameters ToParameters() => new(Alpha, Beta, L1, L2);
}

/// <summary>The model: feature spec, hash bits and hyper-parameters (section <c>AdCtr:Model</c>).</summary>
public sealed class ModelOptions
{
    public const string SectionName = "AdCtr:Model";

    /// <summary>Feature spec file, relative to the content root (default the simulator's schema).</summary>
    [Required]
    public string SpecPath { get; set; } = "config/features.sim.json";

    /// <summary>Overrides the spec's hash bits (18..28) when set.</summary>
    [Range(18, 28)]
    public int? Bits { get; set; }

    /// <summary>Global (fixed-effect) model hyper-parameters (FtrlParameters.GlobalDefault: chosen by adctr-sim tune on the drift scenario).</summary>
    public FtrlOptions Global { get; set; } = new() { Alpha = 0.195, Beta = 1, L1 = 0.151, L2 = 0.555 };

    /// <summary>Campaign (random-effect) hyper-parameters: a stronger L2 shrinks thin campaigns towards 0 (GLMix); FtrlParameters.CampaignDefault.</summary>
    public FtrlOptions Campaign { get; set; } = new() { Alpha = 0.00825, Beta = 1, L1 = 0.0206, L2 = 5.52 };

    /// <summary>Probability that a new campaign coordinate is admitted (McMahan et al. 2013 §4.1); 1 = off.</summary>
    [Range(1e-6, 1.0)]
    public double CampaignAdmission { get; set; } = 1.0;

    /// <summary>Rate r at which negatives are kept when the server downsamples them (1 = keep all).</summary>
    [Range(1e-4, 1.0)]
    public double NegativeDownsampling { get; set; } = 1.0;
}

/// <summary>Request limits (section <c>AdCtr:Limits</c>).</summary>
public sealed class LimitsOptions
{
    public const string SectionName = "AdCtr:Limits";

    [Range(1, 100_000)]
    public int MaxCandidates { get; set; } = 1000;

    [Range(1, 1_000_000)]
    public int MaxBatch { get; set; } = 10_000;

    /// <summary>Largest accepted request body.</summary>
    [Range(1024, 1L << 30)]
    public long MaxBodyBytes { get; set; } = 32L << 20;

    /// <summary>Largest number of distinct feature values in one request (context + candidate fields).</summary>
    [Range(1, 10_000)]
    public int MaxFieldsPerObject { get; set; } = 256;

    /// <summary>Longest accepted string value, in bytes.</summary>
    [Range(1, 1 << 20)]
    public int MaxValueBytes { get; set; } = 1024;
}

/// <summary>The HTTP server's scheduling (section <c>AdCtr:Http</c>).</summary>
public sealed class HttpServerOptions
{
    public const string SectionName = "AdCtr:Http";

    /// <summary>
    /// Kestrel's <c>SocketTransportOptions.UnsafePreferInlineScheduling</c>: a connection's request is parsed and its
    /// handler runs on the thread that took the socket's completion, instead of being handed to an I/O queue and
    /// then to the thread pool (two hops per request). The runtime still takes socket completions on thread-pool
    /// threads (it inlines them on its epoll thread only with <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1</c>,
    /// which this server does not set), so a long handler holds a pool thread, never the socket engine. Measured
    /// (loadtests/README.md, "Predict-1 and ingestion CPU"): 26 % fewer user-space instructions per predict-1 request
    /// under callgrind, but no gain in server CPU time per request with wrk on the loaded 2-core machine, and
    /// ingestion's CPU per batch was higher with it in two A/B runs. Default false (Kestrel's own scheduling) until a
    /// quiet machine shows a gain.
    /// </summary>
    public bool InlineScheduling { get; set; }
}

public enum CalibrationKind
{
    None,
    Isotonic,
    Platt,
}

/// <summary>Calibration of raw probabilities (section <c>AdCtr:Calibration</c>).</summary>
public sealed class CalibrationOptions
{
    public const string SectionName = "AdCtr:Calibration";

    public CalibrationKind Kind { get; set; } = CalibrationKind.Isotonic;

    /// <summary>Number of recent progressive (prediction, label) pairs the calibrator is fitted on.</summary>
    [Range(100, 10_000_000)]
    public int Window { get; set; } = 200_000;

    /// <summary>Refit after this many new examples.</summary>
    [Range(1, 10_000_000)]
    public int RefitEvery { get; set; } = 50_000;

    /// <summary>
    /// And at most once per this interval: at 200,000 examples/s a refit every 50,000 examples sorted the 200,000-entry
    /// window four times a second, 5 % of the server's CPU in an ingestion profile. Default 5 s; zero: no limit.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan MinRefitInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Do not calibrate before this many labelled pairs were seen (identity until then).</summary>
    [Range(1, 10_000_000)]
    public int MinExamples { get; set; } = 10_000;
}
