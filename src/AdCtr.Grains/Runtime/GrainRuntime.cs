using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AdCtr.Grains.Runtime;

/// <summary>
/// A single-process grain runtime shaped like an Orleans silo: grains are addressed by key, activated on
/// first use (state read from <see cref="IGrainStorage"/>), run one write turn at a time, let reads
/// interleave, are deactivated after <see cref="GrainRuntimeOptions.IdleTimeout"/> with their state written,
/// and are reactivated from storage on the next call. See src/AdCtr.Grains/README.md.
/// </summary>
public sealed class GrainRuntime : IGrainFactory, IAsyncDisposable
{
    private readonly IGrainStorage _storage;
    private readonly Lock _registrationLock = new();
    private readonly SemaphoreSlim _collectionLock = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private GrainDirectory?[] _directoriesByTypeIndex = [];
    private GrainDirectory[] _directories = [];
    private ITimer? _timer;
    private int _stopRequested;
    private Task? _stopTask;

    public GrainRuntime(
        IGrainStorage storage,
        GrainRuntimeOptions? options = null,
        TimeProvider? timeProvider = null,
        Meter? meter = null,
        ILogger<GrainRuntime>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(storage);
        Options = options ?? new GrainRuntimeOptions();
        Options.Validate();
        _storage = storage;
        TimeProvider = timeProvider ?? TimeProvider.System;
        Logger = (ILogger?)logger ?? NullLogger.Instance;
        if (meter is not null)
        {
            GrainRuntimeMetrics.Register(meter, this);
        }
    }

    /// <summary>The options (validated at construction; do not change them afterwards).</summary>
    public GrainRuntimeOptions Options { get; }

    /// <summary>The clock used for idle detection and the collection timer.</summary>
    public TimeProvider TimeProvider { get; }

    internal ILogger Logger { get; }

    /// <summary>Cancelled when <see cref="StopAsync"/> has deactivated every activation.</summary>
    internal CancellationToken StoppingToken => _stopping.Token;

    /// <summary>Number of entries in the activation directories (active, activating or being deactivated).</summary>
    public int ActivationDirectorySize
    {
        get
        {
            var total = 0;
            foreach (var directory in Volatile.Read(ref _directories))
            {
                total += directory.Count;
            }

            return total;
        }
    }

    /// <summary>
    /// Registers grain class <typeparamref name="TGrain"/> with the factory that creates its instances (the
    /// place to inject dependencies; Orleans uses DI constructors).
    /// </summary>
    public void RegisterGrainType<TGrain>(Func<GrainId, TGrain> factory, GrainTypeOptions? options = null)
        where TGrain : Grain
    {
        ArgumentNullException.ThrowIfNull(factory);
        var name = options?.Name ?? typeof(TGrain).Name;
        ArgumentException.ThrowIfNullOrEmpty(name);
        var index = GrainTypeIndex<TGrain>.Value;
        lock (_registrationLock)
        {
            var byIndex = _directoriesByTypeIndex;
            if (index < byIndex.Length && byIndex[index] is not null)
            {
                throw new InvalidOperationException("Grain type " + typeof(TGrain).FullName + " is already registered.");
            }

            foreach (var existing in _directories)
            {
                if (existing.GrainType == name)
                {
                    throw new InvalidOperationException("Grain type name " + name + " is already registered.");
                }
            }

            var directory = new GrainDirectory<TGrain>(this, name, options?.Storage ?? _storage, options?.ReadStripes ?? 1, factory);
            var newByIndex = new GrainDirectory?[Math.Max(byIndex.Length, index + 1)];
            Array.Copy(byIndex, newByIndex, byIndex.Length);
            newByIndex[index] = directory;
            Volatile.Write(ref _directories, [.. _directories, directory]);
            Volatile.Write(ref _directoriesByTypeIndex, newByIndex);
        }
    }

    /// <summary>Starts the idle-collection timer (unless <see cref="GrainRuntimeOptions.CollectionInterval"/> is infinite).</summary>
    public void Start()
    {
        GrainRuntimeLog.Started(Logger, Options.IdleTimeout, Options.CollectionInterval, Options.MaxTurnsPerSlice);
        if (Options.CollectionInterval == Timeout.InfiniteTimeSpan || Volatile.Read(ref _stopRequested) != 0)
        {
            return;
        }

        var timer = TimeProvider.CreateTimer(
            static state => ((GrainRuntime)state!).OnCollectionTimer(), this, Options.CollectionInterval, Options.CollectionInterval);
        if (Interlocked.CompareExchange(ref _timer, timer, null) is not null)
        {
            timer.Dispose();
        }
    }

    public GrainReference<TGrain> GetGrain<TGrain>(long key)
        where TGrain : Grain => new(GetDirectory<TGrain>(), GrainKey.FromLong(key));

    public GrainReference<TGrain> GetGrain<TGrain>(string key)
        where TGrain : Grain => new(GetDirectory<TGrain>(), GrainKey.FromString(key));

    public GrainReference<TGrain> GetGrain<TGrain>(GrainKey key)
        where TGrain : Grain => new(GetDirectory<TGrain>(), key);

    /// <summary>Counters over all grain types.</summary>
    public GrainRuntimeStatistics GetStatistics()
    {
        var total = default(GrainRuntimeStatistics);
        foreach (var directory in Volatile.Read(ref _directories))
        {
            total += directory.GetStatistics();
        }

        return total;
    }

    /// <summary>Counters of grain class <typeparamref name="TGrain"/>.</summary>
    public GrainRuntimeStatistics GetStatistics<TGrain>()
        where TGrain : Grain => GetDirectory<TGrain>().GetStatistics();

    internal GrainDirectory[] Directories => Volatile.Read(ref _directories);

    /// <summary>
    /// Deactivates every activation that has had no write turn and no read for
    /// <see cref="GrainRuntimeOptions.IdleTimeout"/> (by <see cref="TimeProvider"/>) or asked to be deactivated,
    /// writing its state. Busy activations are skipped. Returns the number deactivated. Called by the
    /// collection timer; tests call it directly. Passes do not overlap.
    /// </summary>
    public async Task<int> CollectIdleAsync(CancellationToken cancellationToken = default)
    {
        await _collectionLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var candidates = new List<Activation>();
            foreach (var directory in Volatile.Read(ref _directories))
            {
                directory.CopyActivationsTo(candidates);
            }

            var deactivated = 0;
            foreach (var activation in candidates)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (!activation.LooksIdle(Options.IdleTimeout))
                {
                    continue;
                }

                try
                {
                    if (await activation.TryDeactivateAsync(DeactivationReason.Idle, Options.IdleTimeout, cancellationToken).ConfigureAwait(false))
                    {
                        deactivated++;
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Logged as a deactivation failure; the activation stays and is retried next pass.
                }
            }

            GrainRuntimeLog.CollectionCompleted(Logger, deactivated, candidates.Count);
            return deactivated;
        }
        finally
        {
            _collectionLock.Release();
        }
    }

    /// <summary>
    /// Stops the runtime: no new activation is created from now on, the collection timer stops, and every
    /// activation is deactivated (OnDeactivateAsync, state written) once its queued turns and in-flight reads
    /// are done. Throws an <see cref="AggregateException"/> of the state writes that failed (those activations
    /// stay active). Idempotent.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        Task<Task>? start = null;
        Task stop;
        lock (_registrationLock)
        {
            if (_stopTask is null)
            {
                Volatile.Write(ref _stopRequested, 1);
                // Created here, started outside the lock: stopping runs grain code (OnDeactivateAsync).
                start = new Task<Task>(() => StopCoreAsync(cancellationToken));
                _stopTask = start.Unwrap();
            }

            stop = _stopTask;
        }

        start?.Start(TaskScheduler.Default);
        return stop;
    }

    public ValueTask DisposeAsync() => new(StopAsync());

    private async Task StopCoreAsync(CancellationToken cancellationToken)
    {
        Interlocked.Exchange(ref _timer, null)?.Dispose();
        await _collectionLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var failures = new List<Exception>();
            var deactivated = 0;
            var activations = new List<Activation>();
            // A caller that passed the stopping check just before it was set can still add one activation,
            // so sweep until a sweep finds nothing (each sweep only finds activations added before it began).
            while (true)
            {
                activations.Clear();
                foreach (var directory in Volatile.Read(ref _directories))
                {
                    directory.CopyActivationsTo(activations);
                }

                var remaining = 0;
                foreach (var activation in activations)
                {
                    if (activation.Status == Activation.StatusDeactivated)
                    {
                        continue;
                    }

                    remaining++;
                    try
                    {
                        if (await DeactivateWhenQuietAsync(activation, cancellationToken).ConfigureAwait(false))
                        {
                            deactivated++;
                        }
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        failures.Add(e);
                    }
                }

                if (remaining == 0 || failures.Count > 0)
                {
                    break;
                }
            }

            GrainRuntimeLog.Stopped(Logger, deactivated);
            if (failures.Count > 0)
            {
                throw new AggregateException("The state of some grains could not be written at stop; they stay active.", failures);
            }

            await _stopping.CancelAsync().ConfigureAwait(false);
        }
        finally
        {
            _collectionLock.Release();
        }
    }

    // Waits for the activation's queued turns and reads to finish (yielding, then polling every millisecond).
    private static async Task<bool> DeactivateWhenQuietAsync(Activation activation, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            if (await activation.TryDeactivateAsync(DeactivationReason.ShuttingDown, idleTimeout: null, cancellationToken).ConfigureAwait(false))
            {
                return true;
            }

            var status = activation.Status;
            if (status == Activation.StatusDeactivated)
            {
                return false;
            }

            cancellationToken.ThrowIfCancellationRequested();
            if (attempt < 64)
            {
                await Task.Yield();
            }
            else
            {
                await Task.Delay(1, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    internal void ThrowIfStopping()
    {
        if (Volatile.Read(ref _stopRequested) != 0)
        {
            ThrowHelper.ThrowStopped();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal GrainDirectory<TGrain> GetDirectory<TGrain>()
        where TGrain : Grain
    {
        var index = GrainTypeIndex<TGrain>.Value;
        var byIndex = Volatile.Read(ref _directoriesByTypeIndex);
        if ((uint)index < (uint)byIndex.Length && byIndex[index] is { } directory)
        {
            return Unsafe.As<GrainDirectory<TGrain>>(directory);
        }

        return ThrowHelper.ThrowNotRegistered<GrainDirectory<TGrain>>(typeof(TGrain));
    }

    private void OnCollectionTimer()
    {
        if (Volatile.Read(ref _stopRequested) != 0)
        {
            return;
        }

        _ = CollectFromTimerAsync();
    }

    private async Task CollectFromTimerAsync()
    {
        try
        {
            await CollectIdleAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
        catch (Exception e)
        {
            GrainRuntimeLog.CollectionFailed(Logger, e);
        }
    }
}

/// <summary>A process-wide small integer per grain class, to find its directory without hashing.</summary>
internal static class GrainTypeIndex
{
    private static int _next = -1;

    internal static int Next() => Interlocked.Increment(ref _next);
}

internal static class GrainTypeIndex<TGrain>
    where TGrain : Grain
{
    internal static readonly int Value = GrainTypeIndex.Next();
}
