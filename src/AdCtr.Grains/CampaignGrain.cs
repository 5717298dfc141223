using System.Globalization;
using AdCtr.Grains.Journal;
using AdCtr.Grains.Storage;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;

namespace AdCtr.Grains;

/// <summary>
/// One campaign's model grain. Each turn is one call: a <see cref="Learn"/> turn learns the campaign's rows of one
/// batch in order (the joint GLMix step: its sparse model, plus Hogwild updates of the silo's global model), so a
/// batch costs one grain call per campaign, never one per example. On activation the grain reads its state from
/// <see cref="CampaignGrainStorage"/> and puts its model in the silo's <see cref="CampaignModelView"/>, which the
/// predict path reads without calls; on deactivation (Orleans' activation collection, when idle) it writes its
/// state and leaves the view.
/// <para>
/// In a cluster (<see cref="CampaignDurability.Journal"/> set) every slice arrives already durable in the campaign's
/// journal, at known positions. The grain learns the journal in position order, exactly once: it remembers the last
/// position it learned, skips a slice it already holds, and reads from the journal the entries it missed before
/// learning a slice that arrives ahead of them. Its stored state (a checkpoint) records the position it holds: it
/// is written every <see cref="CampaignDurability.CheckpointEvery"/> learned examples and at deactivation, and an
/// activation (on any silo, e.g. after its silo died) loads it and replays the journal after it.
/// </para>
/// </summary>
public sealed partial class CampaignGrain(
    SiloModel silo,
    CampaignGrainStorage storage,
    CampaignDurability durability,
    ILogger<CampaignGrain> logger,
    [PersistentState("campaign", CampaignGrainStorage.ProviderName)] IPersistentState<CampaignState> state) : Grain, ICampaignGrain
{
    private CampaignEntry? _entry;

    /// <summary>The journal position the model holds (cluster only).</summary>
    private long _applied;

    /// <summary>The journal position of the last stored checkpoint (cluster only).</summary>
    private long _checkpointed;

    /// <summary>True while a checkpoint is being written (cluster only).</summary>
    private bool _checkpointing;

    /// <summary>Slices that arrived ahead of <see cref="_applied"/> + 1, by first position, each with the task its call awaits (cluster only).</summary>
    private readonly SortedDictionary<long, Waiting> _ahead = [];

    private sealed record Waiting(CampaignSlice Slice, TaskCompletionSource Done);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var id = this.GetPrimaryKeyString();
        var key = SiloModel.KeyOf(id);
        if (state.State.Model is null)
        {
            state.State.Id = id;
            state.State.Model = silo.NewCampaignModel(id);
        }

        _entry = new CampaignEntry(key, id, state.State.Model, state.State.Stats);
        silo.Register(key, id);
        if (durability.Journal is not null)
        {
            // A cluster: the checkpoint holds the journal up to its position; learn the rest before any call, and before
            // predictions see the model (an activation whose replay fails never enters the view half-replayed).
            _applied = _checkpointed = state.State.JournalSeq;
            await CatchUpAsync(cancellationToken).ConfigureAwait(true);
        }

        silo.View.Add(_entry);

        // A reload that began after the state was read has replaced the stored state: read it again (the reload
        // restores the grains it finds in the view, and this one may have joined the view after it looked). Reload is
        // a single-node operation: a cluster has none.
        if (durability.Journal is null && state.RecordExists && state.Etag != storage.Epoch.ToString(CultureInfo.InvariantCulture))
        {
            await state.ReadStateAsync(cancellationToken).ConfigureAwait(true);
            _entry.Replace(state.State.Model ?? silo.NewCampaignModel(id), state.State.Stats);
        }

        if (silo.KeepAlivePeriod is { } period)
        {
            // Predictions are not grain calls: a campaign that is only predicted would look idle to Orleans. Each tick
            // delays the deactivation when the view saw a read since the last one (ticks do not keep it alive).
            this.RegisterGrainTimer(static (grain, _) => grain.KeepAliveTick(), this, new GrainTimerCreationOptions
            {
                DueTime = period,
                Period = period,
                Interleave = true,
                KeepAlive = false,
            });
        }
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        try
        {
            if (durability.Journal is null)
            {
                await state.WriteStateAsync(cancellationToken).ConfigureAwait(true);
            }
            else if (_applied > _checkpointed)
            {
                // A failed checkpoint loses nothing: the journal after the previous one is replayed at the next activation.
                await TryCheckpointAsync().ConfigureAwait(true);
            }
        }
        finally
        {
            // Leave the view only once the state is stored: a reader finds the campaign in the view or in storage.
            silo.View.Remove(_entry!);
        }
    }

    public Task<int> Learn(Immutable<CampaignSlice> slice)
    {
        var value = slice.Value;
        if (value.FirstSeq == 0 || durability.Journal is null)
        {
            LearnRows(value.Batch, value.Rows);
            return Task.FromResult(value.Rows.Length);
        }

        return LearnJournaledAsync(value);
    }

    private async Task<int> LearnJournaledAsync(CampaignSlice slice)
    {
        var count = slice.Rows.Length;
        var last = slice.FirstSeq + count - 1;
        if (last <= _applied)
        {
            // Already learned: replayed at activation, or read from the journal before this call arrived.
            return count;
        }

        if (slice.FirstSeq == _applied + 1)
        {
            LearnSlice(slice);
            LearnArrived();
            await MaybeCheckpointAsync().ConfigureAwait(true);
            return count;
        }

        // Ahead: the entries before it are durable (their positions were taken before its own), but their calls have not
        // arrived. They are usually in flight from another silo: wait for them (Learn interleaves, so they can run while
        // this call waits), and read from the journal only what is still missing after GapWait (their silo may have died
        // after its commit). Reading at once in the turn cost a PostgreSQL query per campaign of most concurrent batches.
        if (!_ahead.TryGetValue(slice.FirstSeq, out var waiting))
        {
            waiting = new Waiting(slice, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            _ahead.Add(slice.FirstSeq, waiting);
            durability.OnSliceAhead(_entry!.Id, slice.FirstSeq);
        }

        if (durability.GapWait > TimeSpan.Zero)
        {
            using var cancel = new CancellationTokenSource();
            var delay = Task.Delay(durability.GapWait, durability.Time, cancel.Token);
            await Task.WhenAny(waiting.Done.Task, delay).ConfigureAwait(true);
            await cancel.CancelAsync().ConfigureAwait(true);
        }

        if (!waiting.Done.Task.IsCompleted)
        {
            try
            {
                durability.OnGapRead();
                await CatchUpAsync(CancellationToken.None).ConfigureAwait(true);
                LearnArrived();
                if (!waiting.Done.Task.IsCompleted)
                {
                    throw new JournalUnavailableException(
                        "campaign '" + _entry!.Id + "' holds journal position " + _applied + " but the journal has no entries before position " + slice.FirstSeq);
                }
            }
            catch (Exception) when (!waiting.Done.Task.IsCompleted)
            {
                // Not learned: the caller retries (the call again, or the next sync reads the journal). Forget the slice.
                _ahead.Remove(slice.FirstSeq);
                throw;
            }
        }

        await waiting.Done.Task.ConfigureAwait(true);
        await MaybeCheckpointAsync().ConfigureAwait(true);
        return count;
    }

    private void LearnSlice(CampaignSlice slice)
    {
        LearnRows(slice.Batch, slice.Rows);
        _applied = slice.FirstSeq + slice.Rows.Length - 1;
    }

    /// <summary>Learns the waiting slices that are next in journal order, and releases those already learned.</summary>
    private void LearnArrived()
    {
        while (_ahead.Count > 0)
        {
            var (first, waiting) = _ahead.First();
            var last = first + waiting.Slice.Rows.Length - 1;
            if (first == _applied + 1)
            {
                LearnSlice(waiting.Slice);
            }
            else if (last > _applied)
            {
                return;
            }

            _ahead.Remove(first);
            waiting.Done.TrySetResult();
        }
    }

    public async Task<CampaignSummary> SyncAndGetSummary()
    {
        if (durability.Journal is not null)
        {
            durability.OnGapRead();
            await CatchUpAsync(CancellationToken.None).ConfigureAwait(true);
            LearnArrived();
            await MaybeCheckpointAsync().ConfigureAwait(true);
        }

        return await GetSummary().ConfigureAwait(true);
    }

    /// <summary>
    /// Learns every journal entry after <see cref="_applied"/>. Learn calls interleave with the read: entries they
    /// learned meanwhile are skipped.
    /// </summary>
    private async Task CatchUpAsync(CancellationToken cancellationToken)
    {
        var entries = await durability.Journal!.ReadAsync(_entry!.Id, _applied, long.MaxValue, cancellationToken).ConfigureAwait(true);
        var learned = 0;
        foreach (var entry in entries)
        {
            if (entry.LastSeq <= _applied)
            {
                continue;
            }

            if (entry.FirstSeq != _applied + 1)
            {
                throw new JournalUnavailableException(
                    "campaign '" + _entry.Id + "' holds journal position " + _applied + " but the next journal entry starts at " + entry.FirstSeq);
            }

            var batch = ExampleBatch.FromEncoded(entry.Payload);
            var count = batch.Count;
            if (count != entry.Count)
            {
                throw new InvalidDataException("journal entry " + entry.FirstSeq + " of campaign '" + _entry.Id + "' holds " + count + " rows, not " + entry.Count);
            }

            LearnRows(batch, AllRows(count));
            _applied = entry.LastSeq;
            learned++;
        }

        if (learned > 0)
        {
            Log.Replayed(logger, _entry.Id, learned, entries[0].FirstSeq, _applied);
        }
    }

    private static int[] AllRows(int count)
    {
        var rows = new int[count];
        for (var i = 0; i < count; i++)
        {
            rows[i] = i;
        }

        return rows;
    }

    private Task MaybeCheckpointAsync() =>
        _applied - _checkpointed >= durability.CheckpointEvery && !_checkpointing ? TryCheckpointAsync() : Task.CompletedTask;

    /// <summary>
    /// Stores the state with the journal position it holds. A failure is logged and changes nothing acknowledged: the
    /// journal keeps every example after the previous checkpoint, and the next learned slice tries again. The state is
    /// encoded in this turn, before the write: slices that interleave with the write are not in it (nor in its position).
    /// One checkpoint at a time.
    /// </summary>
    private async Task TryCheckpointAsync()
    {
        var seq = _applied;
        var stored = state.State;
        stored.JournalSeq = seq;
        stored.Encoded = CampaignStateCodec.Encode(stored);
        _checkpointing = true;
        try
        {
            await state.WriteStateAsync().ConfigureAwait(true);
            _checkpointed = Math.Max(_checkpointed, seq);
        }
        catch (Exception e) when (e is JournalUnavailableException or TimeoutException)
        {
            Log.CheckpointFailed(logger, e, _entry!.Id, seq);
        }
        finally
        {
            stored.Encoded = null;
            _checkpointing = false;
        }
    }

    private void LearnRows(ExampleBatch batch, int[] rows)
    {
        var model = _entry!.Model;
        var stats = _entry.Stats;
        var observer = silo.Observer;
        var now = silo.Time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var i in rows)
        {
            var label = batch.Label(i);
            var weight = batch.Weight(i);
            var p = silo.Learn(model, batch, i);
            stats.Add(p, label, weight, now);
            observer?.Record(p, label, weight);
        }
    }

    public Task Activate() => Task.CompletedTask;

    public Task<CampaignSummary> GetSummary()
    {
        var model = _entry!.Model;
        return Task.FromResult(CampaignSummary.Of(_entry.Id, model.Coordinates, model.MemoryBytes, _entry.Stats.Clone()));
    }

    public Task<Immutable<float[]>> GetWeights(Immutable<int[]> indices)
    {
        var model = _entry!.Model;
        var weights = new float[indices.Value.Length];
        for (var k = 0; k < weights.Length; k++)
        {
            weights[k] = model.WeightOf(indices.Value[k]);
        }

        return Task.FromResult(weights.AsImmutable());
    }

    public Task<Immutable<byte[]>> Export() =>
        Task.FromResult(CampaignStateCodec.Encode(new CampaignState { Id = _entry!.Id, Model = _entry.Model, Stats = _entry.Stats }).AsImmutable());

    public Task<ReplicaUpdate> GetReplica(long knownExamples)
    {
        var examples = _entry!.Stats.Examples;
        return Task.FromResult(examples == knownExamples
            ? new ReplicaUpdate(examples, null)
            : new ReplicaUpdate(examples, CampaignStateCodec.Encode(new CampaignState { Id = _entry.Id, Model = _entry.Model, Stats = _entry.Stats })));
    }

    public async Task Restore(Immutable<byte[]> encoded)
    {
        var restored = CampaignStateCodec.Decode(encoded.Value);
        var model = restored.Model ?? silo.NewCampaignModel(_entry!.Id);
        state.State.Model = model;
        state.State.Stats = restored.Stats;
        _entry!.Replace(model, restored.Stats);
        await state.WriteStateAsync().ConfigureAwait(true);
    }

    public Task Deactivate()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2101, Level = LogLevel.Debug, Message = "Campaign {CampaignId}: learned {Entries} journal entries from position {From} to {To}")]
        public static partial void Replayed(ILogger logger, string campaignId, int entries, long from, long to);

        [LoggerMessage(EventId = 2102, Level = LogLevel.Warning, Message = "Campaign {CampaignId}: checkpoint at journal position {Seq} failed; the journal after the previous one is kept")]
        public static partial void CheckpointFailed(ILogger logger, Exception exception, string campaignId, long seq);
    }

    private Task KeepAliveTick()
    {
        if (_entry!.TakeRead() && silo.KeepAlivePeriod is { } period)
        {
            DelayDeactivation(period * 2);
        }

        return Task.CompletedTask;
    }
}
