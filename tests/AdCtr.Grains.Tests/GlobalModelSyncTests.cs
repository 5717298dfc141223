using AdCtr.Grains.GlobalSync;
using AdCtr.Learning.Ftrl;

namespace AdCtr.Grains.Tests;

/// <summary>
/// The global model in a cluster (issue 11): silos learn into their own copies and exchange per-coordinate sums of
/// FTRL terms through <see cref="IGlobalModelGrain"/>. Two <see cref="SiloModel"/>s stand for two silos (the grain does
/// not care where its callers run); each test uses a global-model grain of its own.
/// </summary>
public sealed class GlobalModelSyncTests(CampaignGrainClusterFixture fixture) : IClassFixture<CampaignGrainClusterFixture>
{
    private const int Bits = CampaignGrainClusterFixture.Bits;

    private static SiloModel NewSilo() =>
        new(new DenseFtrlModel(Bits, CampaignGrainClusterFixture.GlobalParameters), CampaignGrainClusterFixture.CampaignParameters, 1.0, TimeProvider.System)
        {
            Outbox = new GlobalOutbox(),
        };

    private static void Learn(SiloModel silo, string campaign, int count, int seed)
    {
        var batch = Examples.Batch(campaign, count, seed);
        var model = silo.NewCampaignModel(campaign);
        for (var i = 0; i < batch.Count; i++)
        {
            silo.Learn(model, batch, i);
        }
    }

    private static float[] State(SiloModel silo)
    {
        var state = new float[2 << Bits];
        silo.Global.CopyStateTo(state);
        return state;
    }

    /// <summary>Equal up to float rounding: the silos add the same terms in different orders.</summary>
    private static void AssertClose(float[] expected, float[] actual)
    {
        var far = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            if (MathF.Abs(expected[i] - actual[i]) > 1e-4f * (1f + MathF.Abs(expected[i])))
            {
                far++;
            }
        }

        Assert.Equal(0, far);
    }

    [Fact]
    public async Task TwoSilos_LearnApartThenExchange_EachHoldsTheOthersLearning()
    {
        var a = NewSilo();
        var b = NewSilo();
        var syncA = new GlobalModelSync(a, fixture.Grains, "silo-a", grainKey: 101);
        var syncB = new GlobalModelSync(b, fixture.Grains, "silo-b", grainKey: 101, report: () => new SiloReport(7, 0.5));

        Learn(a, "ca", 400, seed: 1);
        var first = await syncA.ExchangeAsync();
        Assert.True(first.Full, "a silo's first exchange takes the whole table");
        Assert.True(first.Pushed > 0);

        // A silo that joins starts from the cluster's table: everything A learned, bit for bit (the grain summed A's terms
        // in A's order, starting from zero, as A's own table did).
        var joined = await syncB.ExchangeAsync();
        Assert.True(joined.Full);
        Assert.Equal(State(a), State(b));

        // Both learn different examples; after each has sent its own and received the other's, they agree.
        Learn(a, "ca", 300, seed: 2);
        Learn(b, "cb", 300, seed: 3);
        Assert.NotEqual(State(a), State(b));
        var pushA = await syncA.ExchangeAsync();
        var pushB = await syncB.ExchangeAsync();
        var pullA = await syncA.ExchangeAsync();
        Assert.False(pushA.Full || pushB.Full || pullA.Full);
        Assert.Equal(0, pushA.Received); // B had sent nothing yet
        Assert.Equal(pushA.Pushed, pushB.Received); // B got A's sums, not its own
        Assert.Equal(pushB.Pushed, pullA.Received);
        AssertClose(State(a), State(b));

        var status = await fixture.Grains.GetGrain<IGlobalModelGrain>(101).GetStatus();
        Assert.Equal(3, status.Version);
        Assert.Equal(["silo-a", "silo-b"], status.LastExchange.Keys.Order());
        Assert.Equal(new SiloReport(7, 0.5), Assert.Single(status.Reports!, r => r.Key == "silo-b").Value); // silo-a reports nothing
        Assert.Single(status.Reports!);
    }

    [Fact]
    public async Task GrainLostItsState_TheFirstSiloThatHadSyncedGivesTheBase()
    {
        var a = NewSilo();
        var syncA = new GlobalModelSync(a, fixture.Grains, "silo-a", grainKey: 102);
        Learn(a, "ca", 400, seed: 4);
        await syncA.ExchangeAsync();

        // The grain's silo died (here: the grain is deactivated; its state is memory only, the next call starts afresh).
        var management = fixture.Grains.GetGrain<IManagementGrain>(0);
        await management.ForceActivationCollection(TimeSpan.Zero);
        Assert.Equal(0, (await fixture.Grains.GetGrain<IGlobalModelGrain>(102).GetStatus()).Version);

        Learn(a, "ca", 100, seed: 5);
        var rebased = await syncA.ExchangeAsync();
        Assert.False(rebased.Full);
        Assert.Equal(1, (await fixture.Grains.GetGrain<IGlobalModelGrain>(102).GetStatus()).Version);

        // A silo that joins now gets A's table, which holds everything A learned, the rebasing push included.
        var b = NewSilo();
        var joined = await new GlobalModelSync(b, fixture.Grains, "silo-b", grainKey: 102).ExchangeAsync();
        Assert.True(joined.Full);
        Assert.Equal(State(a), State(b));
    }

    [Fact]
    public async Task Exchange_SilosOfAnotherSize_IsAClearError()
    {
        var grain = fixture.Grains.GetGrain<IGlobalModelGrain>(103);
        await grain.Exchange(new GlobalSyncRequest("silo-a", Guid.Empty, 0, GlobalDelta.Empty, Bits));
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => grain.Exchange(new GlobalSyncRequest("silo-b", Guid.Empty, 0, GlobalDelta.Empty, Bits + 2)));
        Assert.Contains("AdCtr:Model:Bits must be the same on every silo", e.Message, StringComparison.Ordinal);
        Assert.Contains(Bits + " in the cluster", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Outbox_ManyTermsWithoutAnExchange_SummedPerCoordinateInPlace_SameTotals()
    {
        var outbox = new GlobalOutbox(compactAt: 1000);
        var terms = new FtrlDeltas();
        for (var round = 0; round < 50; round++)
        {
            terms.Clear();
            for (var k = 0; k < 100; k++)
            {
                terms.Add(k, 0.5f, 0.25f); // 100 coordinates, each touched every round
            }

            outbox.Add(terms);
            Assert.True(outbox.Count < 1100, "outbox holds " + outbox.Count + " terms");
        }

        var sums = outbox.Take().Aggregate();
        Assert.Equal(100, sums.Count);
        Assert.All(sums.Dz.ToArray(), dz => Assert.Equal(25f, dz));
        Assert.All(sums.Dn.ToArray(), dn => Assert.Equal(12.5f, dn));
    }

    [Fact]
    public void Aggregate_SumsPerCoordinateInTermOrder_Ascending()
    {
        var terms = new FtrlDeltas();
        terms.Add(7, 1f, 2f);
        terms.Add(3, 0.5f, 1f);
        terms.Add(7, 0.25f, 4f);
        var sums = terms.Aggregate();
        Assert.Equal([3, 7], sums.Indices.ToArray());
        Assert.Equal([0.5f, 1.25f], sums.Dz.ToArray());
        Assert.Equal([1f, 6f], sums.Dn.ToArray());
    }

    [Fact]
    public void DeferThenApply_OneExample_BitIdenticalToTheInPlaceUpdate()
    {
        var inPlace = new DenseFtrlModel(Bits, CampaignGrainClusterFixture.GlobalParameters);
        var deferred = new DenseFtrlModel(Bits, CampaignGrainClusterFixture.GlobalParameters);
        var batch = Examples.Batch("c", 200, seed: 9);
        var terms = new FtrlDeltas();
        for (var i = 0; i < batch.Count; i++)
        {
            AdCtr.Learning.Models.GlmixSpans.Learn(inPlace, null, batch.GlobalIndices(i), batch.GlobalValues(i), default, default, batch.Label(i), batch.Weight(i));
            terms.Clear();
            AdCtr.Learning.Models.GlmixSpans.LearnDeferred(deferred, null, batch.GlobalIndices(i), batch.GlobalValues(i), default, default, batch.Label(i), batch.Weight(i), terms);
            deferred.Apply(terms);
        }

        var x = new float[2 << Bits];
        var y = new float[2 << Bits];
        inPlace.CopyStateTo(x);
        deferred.CopyStateTo(y);
        Assert.Equal(x, y);
    }
}
