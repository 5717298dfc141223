using AdCtr.Learning.Ftrl;
using Orleans.Concurrency;

namespace AdCtr.Grains.GlobalSync;

/// <summary>
/// The FTRL terms this silo's learning added to its global model since its last exchange (cluster only). Learn turns
/// run in parallel, so adds take a lock; <see cref="Take"/> hands the terms to the exchange and starts a new buffer.
/// </summary>
public sealed class GlobalOutbox(int compactAt = GlobalOutbox.DefaultCompactAt)
{
    /// <summary>Terms held before they are summed per coordinate in place (48 MiB of terms).</summary>
    public const int DefaultCompactAt = 4 << 20;

    private readonly Lock _lock = new();
    private FtrlDeltas _terms = new();

    /// <summary>Terms held (after compactions: at most one per coordinate touched, plus the terms added since).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _terms.Count;
            }
        }
    }

    public void Add(FtrlDeltas terms)
    {
        lock (_lock)
        {
            _terms.AddRange(terms);
            if (_terms.Count >= compactAt)
            {
                // Exchanges failing for a while (or a long interval): keep memory bounded by the coordinates touched.
                _terms = _terms.Aggregate();
            }
        }
    }

    public FtrlDeltas Take()
    {
        lock (_lock)
        {
            var taken = _terms;
            _terms = new FtrlDeltas();
            return taken;
        }
    }

    /// <summary>A copy of the terms added since the last <see cref="Take"/>.</summary>
    public FtrlDeltas Peek()
    {
        lock (_lock)
        {
            var copy = new FtrlDeltas(_terms.Count);
            copy.AddRange(_terms);
            return copy;
        }
    }
}

/// <summary>What one exchange did.</summary>
public readonly record struct GlobalSyncResult(int Pushed, int Received, bool Full);

/// <summary>
/// This silo's side of the global model exchange (<see cref="IGlobalModelGrain"/>): sends the outbox's per-coordinate
/// sums, adds the other silos' sums to the local global model, or takes the whole table when it joins. One exchange at
/// a time (the server's sync service calls it at <c>AdCtr:Cluster:GlobalSyncInterval</c>).
/// </summary>
/// <param name="grainKey">The global-model grain's key: 0 in the server (tests use others, one grain per test).</param>
/// <param name="report">What this silo reports with each exchange (its replicas), or null.</param>
public sealed class GlobalModelSync(SiloModel silo, IGrainFactory grains, string siloId, long grainKey = 0, Func<SiloReport?>? report = null)
{
    private Guid _epoch;
    private long _cursor;

    /// <summary>When the last exchange completed (null before the first).</summary>
    public DateTimeOffset? LastSync { get; private set; }

    public async Task<GlobalSyncResult> ExchangeAsync()
    {
        var outbox = silo.Outbox ?? throw new InvalidOperationException("this silo keeps no outbox (not a cluster)");
        var global = silo.Global;
        var grain = grains.GetGrain<IGlobalModelGrain>(grainKey);
        var taken = outbox.Take();
        var push = GlobalDelta.Of(taken.Aggregate());
        GlobalSyncReply reply;
        try
        {
            reply = await grain.Exchange(new GlobalSyncRequest(siloId, _epoch, _cursor, push, global.Bits, report?.Invoke())).ConfigureAwait(false);
            if (reply.NeedsBase)
            {
                // The grain started afresh; this silo's table holds everything it had synced plus this push: make it the base.
                var state = new float[2 << global.Bits];
                global.CopyStateTo(state);
                await grain.SetBase(siloId, state.AsImmutable()).ConfigureAwait(false);
                _epoch = Guid.Empty;
                _cursor = 0;
                LastSync = silo.Time.GetUtcNow();
                return new GlobalSyncResult(push.Count, 0, Full: false);
            }
        }
        catch
        {
            // Not sent: keep the terms for the next exchange.
            outbox.Add(taken);
            throw;
        }

        int received;
        if (reply.Full is { } full)
        {
            // Joining (or the grain no longer has this silo's cursor): the cluster's table, plus what this silo learned
            // since the push was taken (still in the outbox, and sent next time).
            global.CopyStateFrom(full);
            global.Apply(outbox.Peek());
            received = full.Length / 2;
        }
        else
        {
            global.Apply(reply.Others!.ToDeltas());
            received = reply.Others!.Count;
        }

        _epoch = reply.Epoch;
        _cursor = reply.Cursor;
        LastSync = silo.Time.GetUtcNow();
        return new GlobalSyncResult(push.Count, received, reply.Full is not null);
    }
}
