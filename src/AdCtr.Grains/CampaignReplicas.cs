using System.Collections.Concurrent;
using AdCtr.Learning.Ftrl;
using Microsoft.Extensions.Hosting;

namespace AdCtr.Grains;

/// <summary>
/// In a cluster: this silo's read-only copies of the models of campaigns whose grain is active on another silo, so
/// that a prediction for any campaign is answered here without a grain call per candidate (a call to another silo
/// costs 58-70 µs here, a whole prediction ~0.7 µs per candidate: ../shared/STACK.md).
/// <list type="bullet">
/// <item>A prediction that finds no replica fetches one with <b>one</b> grain call per campaign
/// (<see cref="ICampaignGrain.GetReplica"/>; concurrent requests for the same campaign share the call) and keeps it.</item>
/// <item><see cref="RefreshAsync"/>, run every <see cref="RefreshInterval"/> by <see cref="ReplicaRefresher"/>,
/// refreshes each replica read within the last <see cref="DropAfter"/>, with one call (the grain answers "unchanged"
/// without a model when it learned nothing since), and drops the others, then the least recently read ones beyond
/// <see cref="MaxReplicas"/>: memory and calls stay bounded (at most one call per held replica per interval), and a
/// replica read again after a pause is served no older than about one interval plus one call.</item>
/// <item>A replica is immutable (model, examples, the time it was taken); a refresh publishes a new one, so a reader
/// sees a consistent model without a lock. Its age at serve time is its staleness: it was taken no earlier than the
/// call that fetched it was sent.</item>
/// </list>
/// A campaign never learned anywhere has a replica without a model: the global model alone (cold start).
/// </summary>
public sealed class CampaignReplicas
{
    private readonly ConcurrentDictionary<ulong, CampaignReplica> _replicas = new();
    private readonly ConcurrentDictionary<ulong, Task<CampaignReplica>> _fetching = new();
    private readonly SiloModel _silo;
    private readonly IGrainFactory _grains;
    private readonly TimeProvider _time;
    private TaskCompletionSource _nextPass = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _passes;
    private long _fetches;
    private long _refreshes;
    private long _failures;
    private long _dropped;
    private int _refreshing;
    private long _lastPassAt;

    /// <param name="time">The clock of ages and of the refresher; null: the silo's (<see cref="SiloModel.Time"/>).</param>
    public CampaignReplicas(SiloModel silo, IGrainFactory grains, TimeSpan refreshInterval, TimeSpan dropAfter, int maxReplicas, TimeProvider? time = null)
    {
        if (refreshInterval <= TimeSpan.Zero || dropAfter <= TimeSpan.Zero || maxReplicas < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(refreshInterval), "the refresh interval and the drop delay must be positive, the maximum at least 1");
        }

        _silo = silo;
        _grains = grains;
        _time = time ?? silo.Time;
        RefreshInterval = refreshInterval;
        DropAfter = dropAfter;
        MaxReplicas = maxReplicas;
    }

    public TimeSpan RefreshInterval { get; }

    public TimeSpan DropAfter { get; }

    public int MaxReplicas { get; }

    public TimeProvider Time => _time;

    /// <summary>Replicas held now.</summary>
    public int Count => _replicas.Count;

    /// <summary>Replicas fetched because a prediction found none.</summary>
    public long Fetches => Interlocked.Read(ref _fetches);

    /// <summary>Refresh calls that answered (changed or not).</summary>
    public long Refreshes => Interlocked.Read(ref _refreshes);

    /// <summary>Refresh calls that failed (the replica is kept and served, older; retried at the next pass).</summary>
    public long RefreshFailures => Interlocked.Read(ref _failures);

    /// <summary>Replicas dropped: unread for <see cref="DropAfter"/>, beyond <see cref="MaxReplicas"/>, or active here now.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Refresh passes completed.</summary>
    public long Passes => Interlocked.Read(ref _passes);

    /// <summary>Completes when the pass after the current one has completed (tests advance a fake clock, then await it).</summary>
    public Task NextPass => Volatile.Read(ref _nextPass).Task;

    /// <summary>The replica of <paramref name="key"/>, without a call; marks it read (so it is refreshed and kept).</summary>
    public bool TryGet(ulong key, out CampaignReplica replica)
    {
        if (_replicas.TryGetValue(key, out replica!))
        {
            replica.MarkRead();
            return true;
        }

        return false;
    }

    /// <summary>Age of a replica now, in seconds (its staleness if it is served now).</summary>
    public double AgeSeconds(CampaignReplica replica) => _time.GetElapsedTime(replica.TakenAt).TotalSeconds;

    /// <summary>
    /// The oldest age, in seconds, among replicas read since the start of the previous refresh pass (0 with none): the
    /// staleness predictions are being served with now.
    /// </summary>
    public double OldestReadAgeSeconds()
    {
        var oldest = 0.0;
        var since = Interlocked.Read(ref _lastPassAt);
        foreach (var replica in _replicas.Values)
        {
            if (replica.WasRead || (since != 0 && replica.LastReadAt >= since))
            {
                oldest = Math.Max(oldest, AgeSeconds(replica));
            }
        }

        return oldest;
    }

    /// <summary>
    /// The replica of campaign <paramref name="id"/>: the one held, or one fetched with one grain call (shared by
    /// concurrent callers). Faults with the grain call's exception (the caller answers 503).
    /// </summary>
    public Task<CampaignReplica> GetOrFetchAsync(ulong key, string id)
    {
        if (TryGet(key, out var replica))
        {
            return Task.FromResult(replica);
        }

        if (_fetching.TryGetValue(key, out var pending))
        {
            return pending;
        }

        var fetch = new TaskCompletionSource<CampaignReplica>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_fetching.TryAdd(key, fetch.Task))
        {
            return _fetching.TryGetValue(key, out pending) ? pending : GetOrFetchAsync(key, id);
        }

        _ = FetchIntoAsync(key, id, fetch);
        return fetch.Task;
    }

    private async Task FetchIntoAsync(ulong key, string id, TaskCompletionSource<CampaignReplica> fetch)
    {
        try
        {
            var replica = await CallAsync(key, id, known: null).ConfigureAwait(false);
            replica.MarkRead();
            _replicas[key] = replica;
            Interlocked.Increment(ref _fetches);
            fetch.SetResult(replica);
        }
        catch (Exception e)
        {
            fetch.SetException(e);
        }
        finally
        {
            _fetching.TryRemove(key, out _);
        }
    }

    /// <summary>One grain call: the grain's model if it learned since <paramref name="known"/>, else <paramref name="known"/>'s, taken now.</summary>
    private async Task<CampaignReplica> CallAsync(ulong key, string id, CampaignReplica? known)
    {
        var sent = _time.GetTimestamp();
        var update = await _grains.GetGrain<ICampaignGrain>(id).GetReplica(known?.Examples ?? -1).ConfigureAwait(false);
        var model = update.State is { } bytes
            ? CampaignStateCodec.Decode(bytes).Model
            : known?.Model;
        return new CampaignReplica(key, id, update.Examples > 0 || model is { Coordinates: > 0 } ? model : null, update.Examples, sent, known?.LastReadAt ?? sent);
    }

    /// <summary>
    /// One refresh pass: drops the replicas of campaigns now active in this silo (the view serves them), those unread
    /// for <see cref="DropAfter"/> and the least recently read beyond <see cref="MaxReplicas"/>; refreshes every other
    /// replica with one call each (in parallel). A failed call keeps the replica (served older, its age shows it).
    /// </summary>
    public async Task RefreshAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _refreshing, 1, 0) != 0)
        {
            return; // a pass is running (a slow one): this tick is skipped, not doubled
        }

        try
        {
            var now = _time.GetTimestamp();
            Interlocked.Exchange(ref _lastPassAt, now);
            var calls = new List<Task>();
            foreach (var replica in _replicas.Values)
            {
                if (_silo.View.TryGet(replica.Key, out _))
                {
                    Drop(replica);
                    continue;
                }

                if (replica.TakeRead())
                {
                    replica.LastReadAt = now;
                }

                if (_time.GetElapsedTime(replica.LastReadAt, now) >= DropAfter)
                {
                    Drop(replica);
                }
                else
                {
                    // Refreshed even when not read in this interval: a replica read again after a pause must not be served
                    // as old as the pause (seen: 10 s ages after a 10 s pause when only replicas read in the interval were
                    // refreshed). So the age served stays under about one interval plus one call.
                    calls.Add(RefreshOneAsync(replica));
                }
            }

            await Task.WhenAll(calls).WaitAsync(cancellationToken).ConfigureAwait(false);
            TrimToMax();
        }
        finally
        {
            Volatile.Write(ref _refreshing, 0);
            Interlocked.Increment(ref _passes);
            Interlocked.Exchange(ref _nextPass, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).SetResult();
        }
    }

    private async Task RefreshOneAsync(CampaignReplica replica)
    {
        try
        {
            var fresh = await CallAsync(replica.Key, replica.Id, replica).ConfigureAwait(false);

            // Replace only the replica this pass refreshed (a drop or a newer fetch meanwhile wins); a read of the old one
            // since it was taken carries over, so a campaign read during the call stays refreshed.
            if (replica.WasRead)
            {
                fresh.MarkRead();
            }

            _replicas.TryUpdate(replica.Key, fresh, replica);
            Interlocked.Increment(ref _refreshes);
        }
        catch (Exception)
        {
            // Served older meanwhile (its age shows it); the next pass tries again. A campaign whose silo died comes back
            // on a survivor once Orleans declares it dead.
            Interlocked.Increment(ref _failures);
        }
    }

    private void Drop(CampaignReplica replica)
    {
        if (_replicas.TryRemove(new KeyValuePair<ulong, CampaignReplica>(replica.Key, replica)))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    private void TrimToMax()
    {
        var excess = _replicas.Count - MaxReplicas;
        if (excess <= 0)
        {
            return;
        }

        var all = _replicas.Values.ToArray();
        Array.Sort(all, static (a, b) => a.LastReadAt.CompareTo(b.LastReadAt));
        for (var i = 0; i < excess && i < all.Length; i++)
        {
            Drop(all[i]);
        }
    }
}

/// <summary>
/// A read-only copy of a campaign's model taken from its grain on another silo. Nothing writes the model: a refresh
/// publishes a new replica.
/// </summary>
public sealed class CampaignReplica(ulong key, string id, SparseFtrlModel? model, long examples, long takenAt, long lastReadAt)
{
    private ReadFlag _read;

    public ulong Key { get; } = key;

    public string Id { get; } = id;

    /// <summary>The campaign model; null for a campaign never learned anywhere (the global model alone).</summary>
    public SparseFtrlModel? Model { get; } = model;

    /// <summary>Examples the campaign had learned when the replica was taken (the grain's version of its model).</summary>
    public long Examples { get; } = examples;

    /// <summary>When the call that took it was sent (<see cref="TimeProvider.GetTimestamp"/>): its age is an upper bound of its staleness.</summary>
    public long TakenAt { get; } = takenAt;

    /// <summary>The refresh pass that last saw it read (or its fetch), in <see cref="TimeProvider.GetTimestamp"/> units.</summary>
    public long LastReadAt { get; internal set; } = lastReadAt;

    internal bool WasRead => _read.IsSet;

    /// <summary>A plain write, and only when the flag is not set yet, so a hot replica's cache line is not dirtied per prediction.</summary>
    internal void MarkRead() => _read.Mark();

    internal bool TakeRead() => _read.Take();
}

/// <summary>
/// Runs <see cref="CampaignReplicas.RefreshAsync"/> every refresh interval, on a timer of the replicas' clock (a test's
/// fake clock fires it when advanced). A pass still running when the timer fires again is not doubled: that tick is skipped.
/// </summary>
public sealed class ReplicaRefresher(CampaignReplicas replicas) : IHostedService, IAsyncDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private ITimer? _timer;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _timer = replicas.Time.CreateTimer(static state => ((ReplicaRefresher)state!).Tick(), this, replicas.RefreshInterval, replicas.RefreshInterval);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_timer is not null)
        {
            await _timer.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void Tick()
    {
        if (!_stopping.IsCancellationRequested)
        {
            _ = PassAsync();
        }
    }

    private async Task PassAsync()
    {
        try
        {
            await replicas.RefreshAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_timer is not null)
        {
            await _timer.DisposeAsync().ConfigureAwait(false);
        }

        _stopping.Dispose();
    }
}
