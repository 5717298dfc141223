using AdCtr.Grains.Runtime;
using Microsoft.Extensions.Logging;

namespace AdCtr.Grains.Tests.Runtime;

/// <summary>A runtime over memory storage and a manual clock, owned by one test.</summary>
internal sealed class RuntimeFixture : IAsyncDisposable
{
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(10);

    public RuntimeFixture(IGrainStorage? storage = null, ILogger<GrainRuntime>? logger = null, TimeSpan? collectionInterval = null, TimeProvider? systemTime = null)
    {
        Storage = storage ?? new MemoryGrainStorage();
        Runtime = new GrainRuntime(
            Storage,
            new GrainRuntimeOptions { IdleTimeout = IdleTimeout, CollectionInterval = collectionInterval ?? Timeout.InfiniteTimeSpan },
            systemTime ?? Time,
            meter: null,
            logger);
        Runtime.RegisterGrainType(_ => new CounterGrain(Probe), new GrainTypeOptions { Name = "counter" });
        Runtime.RegisterGrainType(_ => new EchoGrain(), new GrainTypeOptions { Name = "echo" });
    }

    public ManualTimeProvider Time { get; } = new();

    public GrainProbe Probe { get; } = new();

    public IGrainStorage Storage { get; }

    public MemoryGrainStorage Memory => (MemoryGrainStorage)Storage;

    public GrainRuntime Runtime { get; }

    public GrainReference<CounterGrain> Counter(long key) => Runtime.GetGrain<CounterGrain>(key);

    public static ValueTask<long> IncrementAsync(GrainReference<CounterGrain> grain) =>
        grain.InvokeAsync(0, static (g, _) => new ValueTask<long>(g.Increment()));

    public async Task<long> StoredCountAsync(long key)
    {
        var state = new GrainState<CounterState>(new CounterState { Count = -1 });
        await Storage.ReadStateAsync(new GrainId("counter", key), state, CancellationToken.None);
        return state.RecordExists ? state.State.Count : -1;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Runtime.StopAsync();
        }
        catch (AggregateException)
        {
            // Tests that make storage fail on purpose leave activations behind; nothing else to release.
        }
    }
}

/// <summary>Keeps the event ids of log entries.</summary>
internal sealed class CapturingLogger<T> : ILogger<T>
{
    private readonly List<(EventId Id, LogLevel Level, Exception? Exception)> _entries = [];

    public IReadOnlyList<(EventId Id, LogLevel Level, Exception? Exception)> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_entries)
        {
            _entries.Add((eventId, logLevel, exception));
        }
    }
}

/// <summary>A directory under the temp path, deleted when disposed.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory() =>
        Path = Directory.CreateTempSubdirectory("adctr-grains-").FullName;

    public string Path { get; }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
