using System.Globalization;
using AdCtr.Grains.Storage;
using AdCtr.Learning.Models;
using Orleans.Concurrency;

namespace AdCtr.Grains;

/// <summary>
/// One campaign's model grain. Each turn is one call: a <see cref="Learn"/> turn learns the campaign's rows of one
/// batch in order (the joint GLMix step: its sparse model, plus Hogwild updates of the silo's global model), so a
/// batch costs one grain call per campaign, never one per example. On activation the grain reads its state from
/// <see cref="CampaignGrainStorage"/> and puts its model in the silo's <see cref="CampaignModelView"/>, which the
/// predict path reads without calls; on deactivation (Orleans' activation collection, when idle) it writes its
/// state and leaves the view.
/// </summary>
public sealed class CampaignGrain(
    SiloModel silo,
    CampaignGrainStorage storage,
    [PersistentState("campaign", CampaignGrainStorage.ProviderName)] IPersistentState<CampaignState> state) : Grain, ICampaignGrain
{
    private CampaignEntry? _entry;

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
        silo.View.Add(_entry);

        // A reload that began after the state was read has replaced the stored state: read it again (the reload
        // restores the grains it finds in the view, and this one may have joined the view after it looked).
        if (state.RecordExists && state.Etag != storage.Epoch.ToString(CultureInfo.InvariantCulture))
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
            await state.WriteStateAsync(cancellationToken).ConfigureAwait(true);
        }
        finally
        {
            // Leave the view only once the state is stored: a reader finds the campaign in the view or in storage.
            silo.View.Remove(_entry!);
        }
    }

    public Task<int> Learn(Immutable<CampaignSlice> slice)
    {
        var batch = slice.Value.Batch;
        var rows = slice.Value.Rows;
        var global = silo.Global;
        var model = _entry!.Model;
        var stats = _entry.Stats;
        var observer = silo.Observer;
        var now = silo.Time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var i in rows)
        {
            var label = batch.Label(i);
            var weight = batch.Weight(i);
            var p = GlmixSpans.Learn(global, model, batch.GlobalIndices(i), batch.GlobalValues(i), batch.CampaignIndices(i), batch.CampaignValues(i), label, weight);
            stats.Add(p, label, weight, now);
            observer?.Record(p, label, weight);
        }

        return Task.FromResult(rows.Length);
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

    private Task KeepAliveTick()
    {
        if (_entry!.TakeRead() && silo.KeepAlivePeriod is { } period)
        {
            DelayDeactivation(period * 2);
        }

        return Task.CompletedTask;
    }
}
