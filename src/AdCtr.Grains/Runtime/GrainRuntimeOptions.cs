namespace AdCtr.Grains.Runtime;

/// <summary>Options of a <see cref="GrainRuntime"/> (bind from configuration section "Grains").</summary>
public sealed class GrainRuntimeOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Grains";

    /// <summary>
    /// An activation with no write turn and no read for this long is deactivated (its state persisted) by
    /// the next collection pass. Default 15 minutes (Orleans' default collection age).
    /// </summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// Period of the idle-collection timer started by <see cref="GrainRuntime.Start"/>. Default 1 minute;
    /// <see cref="Timeout.InfiniteTimeSpan"/> disables the timer (call <see cref="GrainRuntime.CollectIdleAsync"/>).
    /// </summary>
    public TimeSpan CollectionInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Maximum number of turns one activation runs before it gives its thread pool thread back to other work
    /// (fairness between activations). Default 128.
    /// </summary>
    public int MaxTurnsPerSlice { get; set; } = 128;

    /// <summary>Throws when an option is out of range.</summary>
    public void Validate()
    {
        if (IdleTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(IdleTimeout), IdleTimeout, "IdleTimeout must be positive.");
        }

        if (CollectionInterval <= TimeSpan.Zero && CollectionInterval != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(CollectionInterval), CollectionInterval,
                "CollectionInterval must be positive or Timeout.InfiniteTimeSpan.");
        }

        if (MaxTurnsPerSlice < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxTurnsPerSlice), MaxTurnsPerSlice, "MaxTurnsPerSlice must be at least 1.");
        }
    }
}

/// <summary>Per-grain-type registration options.</summary>
public sealed class GrainTypeOptions
{
    /// <summary>The grain type name used in <see cref="GrainId"/> and by storage; default the class name.</summary>
    public string? Name { get; set; }

    /// <summary>Storage for this grain type; default the runtime's storage.</summary>
    public IGrainStorage? Storage { get; set; }

    /// <summary>
    /// Number of padded in-flight-read counters per activation (rounded up to a power of two). 1 (the default)
    /// costs 128 bytes per activation; a grain read by every request on every core (the global model) should
    /// use <see cref="Environment.ProcessorCount"/> so that concurrent reads do not contend on one cache line.
    /// </summary>
    public int ReadStripes { get; set; } = 1;
}
