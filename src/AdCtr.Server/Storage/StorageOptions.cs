using Microsoft.Extensions.Options;

namespace AdCtr.Server.Storage;

/// <summary>Options of the embedded storage (configuration section <c>AdCtr:Storage</c>).</summary>
public sealed class StorageOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string SectionName = "AdCtr:Storage";

    /// <summary>Smallest accepted <see cref="SegmentBytes"/> (1 KiB).</summary>
    public const long MinSegmentBytes = 1024;

    /// <summary>Largest accepted <see cref="SegmentBytes"/> (16 GiB).</summary>
    public const long MaxSegmentBytes = 16L * 1024 * 1024 * 1024;

    /// <summary>Data directory. The example log lives in <c>{Path}/log</c>, snapshots in <c>{Path}/snapshots</c>. Default <c>./data</c>.</summary>
    public string Path { get; set; } = "./data";

    /// <summary>When appended examples are fsynced. Default <see cref="FsyncPolicy.Interval"/>.</summary>
    public FsyncPolicy FsyncPolicy { get; set; } = FsyncPolicy.Interval;

    /// <summary>Longest time between fsyncs under <see cref="FsyncPolicy.Interval"/>, in milliseconds (1..60000). Default 50.</summary>
    public int FsyncIntervalMs { get; set; } = 50;

    /// <summary>A log segment is closed and a new one started when the next record would make it larger than this. Default 64 MiB.</summary>
    public long SegmentBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Retention: delete the oldest eligible segments while the log is larger than this many bytes. Null (default): no size limit.</summary>
    public long? RetainBytes { get; set; }

    /// <summary>Retention: delete eligible segments whose newest record is older than this many hours. Null (default): no age limit.</summary>
    public double? RetainHours { get; set; }

    /// <summary>How many snapshots the <see cref="SnapshotStore"/> keeps (newest first). Default 3.</summary>
    public int SnapshotsToKeep { get; set; } = 3;

    /// <summary>Directory of the example log segments.</summary>
    public string LogDirectory => System.IO.Path.Combine(Path, "log");

    /// <summary>Directory of the model snapshots.</summary>
    public string SnapshotDirectory => System.IO.Path.Combine(Path, "snapshots");

    /// <summary>Checks the options; returns one message per invalid setting (empty when valid).</summary>
    public static IReadOnlyList<string> Validate(StorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Path))
        {
            errors.Add("AdCtr:Storage:Path must not be empty.");
        }

        if (!Enum.IsDefined(options.FsyncPolicy))
        {
            errors.Add("AdCtr:Storage:FsyncPolicy must be one of always, interval, never.");
        }

        if (options.FsyncIntervalMs is < 1 or > 60_000)
        {
            errors.Add("AdCtr:Storage:FsyncIntervalMs must be between 1 and 60000, was " + options.FsyncIntervalMs + ".");
        }

        if (options.SegmentBytes is < MinSegmentBytes or > MaxSegmentBytes)
        {
            errors.Add("AdCtr:Storage:SegmentBytes must be between " + MinSegmentBytes + " and " + MaxSegmentBytes + ", was " + options.SegmentBytes + ".");
        }

        if (options.RetainBytes is <= 0)
        {
            errors.Add("AdCtr:Storage:RetainBytes must be positive when set, was " + options.RetainBytes + ".");
        }

        if (options.RetainHours is { } hours && (!double.IsFinite(hours) || hours <= 0))
        {
            errors.Add("AdCtr:Storage:RetainHours must be a positive number when set, was " + hours + ".");
        }

        if (options.SnapshotsToKeep is < 1 or > 1000)
        {
            errors.Add("AdCtr:Storage:SnapshotsToKeep must be between 1 and 1000, was " + options.SnapshotsToKeep + ".");
        }

        return errors;
    }

    internal void ThrowIfInvalid()
    {
        var errors = Validate(this);
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors), "options");
        }
    }
}

/// <summary>Adapts <see cref="StorageOptions.Validate"/> to the options pipeline (for <c>ValidateOnStart</c>).</summary>
public sealed class StorageOptionsValidator : IValidateOptions<StorageOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, StorageOptions options)
    {
        var errors = StorageOptions.Validate(options);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
