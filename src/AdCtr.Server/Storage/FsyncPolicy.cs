namespace AdCtr.Server.Storage;

/// <summary>When the <see cref="ExampleLog"/> forces written records to stable storage (fsync).</summary>
public enum FsyncPolicy
{
    /// <summary>
    /// Every group of appends is fsynced before any append in it completes. An acknowledged append
    /// survives a process kill (<c>kill -9</c>), an OS crash and a power loss (as far as the disk honours
    /// flush requests). Costs one fsync per group commit.
    /// </summary>
    Always = 0,

    /// <summary>
    /// An append completes once its record has been written to the OS page cache, so it survives a
    /// process kill (<c>kill -9</c>). The log is fsynced at most every <see cref="StorageOptions.FsyncIntervalMs"/>
    /// (and before a group completes when the interval has already elapsed), so an OS crash or power loss
    /// can lose the appends acknowledged during the last interval.
    /// </summary>
    Interval = 1,

    /// <summary>
    /// Appends complete once written to the OS page cache (survive <c>kill -9</c>); the OS decides when the
    /// data reaches the disk (typically within ~30 s on Linux). The log is still fsynced on
    /// <see cref="ExampleLog.FlushAsync"/> and on close.
    /// </summary>
    Never = 2,
}
