using System.ComponentModel.DataAnnotations;

namespace AdCtr.Server.ConsolePage;

/// <summary>The console page and its JSON feeds (section <c>AdCtr:Console</c>).</summary>
public sealed class ConsoleOptions
{
    public const string SectionName = "AdCtr:Console";

    /// <summary>How often <c>GET /v1/models/history</c> takes a sample (host clock). Default 5 s; 1 s to 1 h.</summary>
    public TimeSpan HistoryInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Samples kept (a ring: the oldest goes first). Default 360, 30 minutes at 5 s.</summary>
    [Range(2, 10_000)]
    public int HistoryLength { get; set; } = 360;

    /// <summary>
    /// The reliability diagram's examples: the newest this many of the calibration window (at most its size).
    /// Default 50,000: enough for 50 bins of 1,000, and a quarter of the cost of the whole default window.
    /// </summary>
    [Range(100, 10_000_000)]
    public int ReliabilityExamples { get; set; } = 50_000;

    /// <summary>The reliability diagram is recomputed at most this often (it sorts its examples). Default 1 s.</summary>
    public TimeSpan ReliabilityMinInterval { get; set; } = TimeSpan.FromSeconds(1);

    internal bool IsValid() =>
        HistoryInterval >= TimeSpan.FromSeconds(1) && HistoryInterval <= TimeSpan.FromHours(1)
        && ReliabilityMinInterval >= TimeSpan.Zero && ReliabilityMinInterval <= TimeSpan.FromMinutes(10);
}
