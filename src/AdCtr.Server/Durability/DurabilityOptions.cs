using System.ComponentModel.DataAnnotations;

namespace AdCtr.Server.Durability;

/// <summary>Snapshots, recovery and retraining (section <c>AdCtr:Durability</c>); the files live under <c>AdCtr:Storage:Path</c>.</summary>
public sealed class DurabilityOptions
{
    public const string SectionName = "AdCtr:Durability";

    /// <summary>False: no example log, no snapshots, nothing survives a restart. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Time between scheduled snapshots. Default 5 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "7.00:00:00")]
    public TimeSpan SnapshotInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// While the example log's device fails (full disk, I/O errors), how often it is probed for writability (a file the
    /// size of the failed append is written, fsynced and deleted), so that readiness comes back without traffic;
    /// also the <c>Retry-After</c> of the 507/503 answers. Default 5 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan StorageProbeInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>After a scheduled snapshot failed, the next attempt comes this soon (instead of a whole interval). Default 30 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "7.00:00:00")]
    public TimeSpan SnapshotRetryInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Write a snapshot on graceful shutdown (so the next start replays nothing). Default true.</summary>
    public bool SnapshotOnShutdown { get; set; } = true;

    /// <summary>
    /// False (default): start-up fails, naming the file and offset, when a record in the middle of the log is
    /// damaged (a torn tail is always cut off and counted). True: the rest of the damaged segment is skipped,
    /// counted and logged, and start-up goes on.
    /// </summary>
    public bool SkipCorruptRecords { get; set; }

    /// <summary>Retraining: largest number of examples read from the log window. Default 2,000,000.</summary>
    [Range(10, 100_000_000)]
    public int RetrainMaxExamples { get; set; } = 2_000_000;

    /// <summary>Retraining: fraction of the window (its most recent part) held out for evaluate-then-swap. Default 0.1.</summary>
    [Range(0.01, 0.9)]
    public double RetrainHoldoutFraction { get; set; } = 0.1;

    /// <summary>Retraining: L2 strength of the L-BFGS objective (summed loss). Default 1.</summary>
    [Range(0.0, 1e9)]
    public double RetrainL2 { get; set; } = 1.0;

    /// <summary>Retraining: L-BFGS iteration budget. Default 100.</summary>
    [Range(1, 10_000)]
    public int RetrainMaxIterations { get; set; } = 100;
}

/// <summary>The admin API (section <c>AdCtr:Admin</c>).</summary>
public sealed class AdminOptions
{
    public const string SectionName = "AdCtr:Admin";

    /// <summary>Key expected in the <c>X-Api-Key</c> header. Unset (default): the admin endpoints are not mapped.</summary>
    public string? ApiKey { get; set; }
}
