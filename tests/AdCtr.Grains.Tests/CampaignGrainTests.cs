using AdCtr.Learning.Ftrl;
using AdCtr.Learning.Models;
using Orleans.Concurrency;

namespace AdCtr.Grains.Tests;

/// <summary>Campaign grains on a real Orleans silo (TestingHost): turns, storage, activation failures, reads beside a turn.</summary>
public sealed class CampaignGrainTests(CampaignGrainClusterFixture fixture) : IClassFixture<CampaignGrainClusterFixture>
{
    [Fact]
    public async Task Learn_ConcurrentSlicesOfOneCampaign_EachLearnedWholeInOneTurnAndTheModelEqualsThatOrder()
    {
        // 8 slices sent at once; slice s has 50 examples of weight s + 1, so the observer's weights show which slice
        // each learned example came from, in the order the grain learned them.
        const string id = "turn-order";
        var slices = new CampaignSlice[8];
        for (var s = 0; s < slices.Length; s++)
        {
            slices[s] = Examples.All(Examples.Batch(id, 50, seed: 100 + s, weight: s + 1));
        }

        var before = fixture.Observer.Seen.Count;
        var global = new DenseFtrlModel(CampaignGrainClusterFixture.Bits, CampaignGrainClusterFixture.GlobalParameters);
        global.CopyFrom(fixture.Silo.Global); // tests of a class run one at a time: nothing else learns meanwhile
        var grain = fixture.Grains.GetGrain<ICampaignGrain>(id);
        var learned = await Task.WhenAll(slices.Select(s => grain.Learn(s.AsImmutable())));
        Assert.All(learned, n => Assert.Equal(50, n));

        var weights = fixture.Observer.Seen.Skip(before).Where(e => e.Weight is >= 1 and <= 8).Select(e => (int)e.Weight).ToList();
        Assert.Equal(400, weights.Count);
        var order = new List<int>();
        for (var i = 0; i < weights.Count; i += 50)
        {
            // One turn per slice: 50 consecutive examples of the same slice, never two slices interleaved.
            Assert.All(weights.GetRange(i, 50), w => Assert.Equal(weights[i], w));
            order.Add(weights[i] - 1);
        }

        Assert.Equal(8, order.Distinct().Count());

        // A sequential replay of the slices in that order gives the same models, bit for bit.
        var replay = new SparseFtrlModel(CampaignGrainClusterFixture.CampaignParameters, 16, 1.0, SiloModel.KeyOf(id));
        foreach (var s in order)
        {
            var batch = slices[s].Batch;
            for (var i = 0; i < batch.Count; i++)
            {
                GlmixSpans.Learn(global, replay, batch.GlobalIndices(i), batch.GlobalValues(i), batch.CampaignIndices(i), batch.CampaignValues(i), batch.Label(i), batch.Weight(i));
            }
        }

        var exported = CampaignStateCodec.Decode((await grain.Export()).Value);
        Assert.Equal(400, exported.Stats.Examples);
        Assert.Equal(replay.Coordinates, exported.Model!.Coordinates);
        var mismatches = 0;
        replay.ForEach(ref mismatches, (ref int m, int index, float z, float n) =>
        {
            if (!exported.Model.TryGetState(index, out var z2, out var n2) || z2 != z || n2 != n)
            {
                m++;
            }
        });
        Assert.Equal(0, mismatches);
        for (var i = 0; i < 1 << CampaignGrainClusterFixture.Bits; i++)
        {
            global.TryGetState(i, out var z, out var n);
            fixture.Silo.Global.TryGetState(i, out var z2, out var n2);
            Assert.True(z == z2 && n == n2, "global coordinate " + i);
        }
    }

    [Fact]
    public async Task Deactivate_ThenCalledAgain_ComesBackFromStorageBitIdentical()
    {
        const string id = "deactivate";
        var grain = fixture.Grains.GetGrain<ICampaignGrain>(id);
        await grain.Learn(Examples.All(Examples.Batch(id, 300, seed: 7)).AsImmutable());
        var before = (await grain.Export()).Value;
        var summaryBefore = await grain.GetSummary();
        Assert.True(fixture.Silo.View.TryGet(SiloModel.KeyOf(id), out _));

        await fixture.Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);

        Assert.False(fixture.Silo.View.TryGet(SiloModel.KeyOf(id), out _));
        Assert.True(fixture.Storage.Contains(id));
        Assert.Equal(before, fixture.Storage.ReadBytes(id));

        var after = (await grain.Export()).Value; // reactivated from storage by this call
        Assert.True(fixture.Silo.View.TryGet(SiloModel.KeyOf(id), out _));
        Assert.Equal(before, after);
        Assert.Equal(summaryBefore, await grain.GetSummary());
    }

    [Fact]
    public async Task Activate_StoredStateUnreadable_CallFailsAndTheNextCallAfterRepairActivates()
    {
        const string id = "broken";
        Assert.Null(fixture.Storage.ReadBytes(id)); // (also creates the storage directory, as its first use does)
        var path = fixture.Storage.PathOf(id);
        await File.WriteAllBytesAsync(path, [1, 2, 3]); // not a campaign state
        var grain = fixture.Grains.GetGrain<ICampaignGrain>(id);

        var error = await Assert.ThrowsAnyAsync<Exception>(() => grain.Activate());
        Assert.Contains("campaign state", error.ToString(), StringComparison.Ordinal);
        Assert.False(fixture.Silo.View.TryGet(SiloModel.KeyOf(id), out _));

        File.Delete(path);
        await grain.Activate();
        Assert.True(fixture.Silo.View.TryGet(SiloModel.KeyOf(id), out var entry));
        Assert.Equal(0, entry.Stats.Examples);
    }

    [Fact]
    public async Task View_ReadsDuringALongLearnTurn_AreLockFreeAndSeeTheFinalModelAfterIt()
    {
        const string id = "reads";
        var grain = fixture.Grains.GetGrain<ICampaignGrain>(id);
        await grain.Activate();
        Assert.True(fixture.Silo.View.TryGet(SiloModel.KeyOf(id), out var entry));
        var probe = Examples.Batch(id, 1, seed: 99);
        var big = Examples.All(Examples.Batch(id, 200_000, seed: 8));

        var learning = grain.Learn(big.AsImmutable());
        var reads = 0L;
        var readsWhileLearning = 0L;
        var deadline = DateTime.UtcNow.AddSeconds(120); // bounds the loop if the call never completes
        while (!learning.IsCompleted && DateTime.UtcNow < deadline)
        {
            var dot = entry.Model.Dot(probe.CampaignIndices(0), probe.CampaignValues(0));
            Assert.True(double.IsFinite(dot));
            reads++;
            if (entry.Stats.Examples is > 0 and < 200_000)
            {
                readsWhileLearning++;
            }
        }

        Assert.Equal(200_000, await learning);
        Assert.True(readsWhileLearning > 0, "no read overlapped the learn turn (" + reads + " reads)");
        var final = CampaignStateCodec.Decode((await grain.Export()).Value).Model!;
        Assert.Equal(final.Dot(probe.CampaignIndices(0), probe.CampaignValues(0)), entry.Model.Dot(probe.CampaignIndices(0), probe.CampaignValues(0)));
    }
}
