using Orleans.Concurrency;
using AdCtr.Grains.Storage;
using AdCtr.Learning.Ftrl;
using AdCtr.Server.Tests.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace AdCtr.Grains.Tests;

/// <summary>
/// Replicas of remote campaign models (<see cref="CampaignReplicas"/>) on a two-silo in-process <see cref="TestCluster"/>:
/// a campaign learned by its grain on one silo is served on the other from a replica fetched with one call, and the
/// replica follows more learning once the other silo's (hand-moved) clock passes the refresh interval. Each silo has its
/// own <see cref="ManualTimeProvider"/>, so nothing here waits on wall-clock time.
/// </summary>
public sealed class CampaignReplicaTests : IAsyncLifetime
{
    private static readonly TimeSpan Refresh = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan DropAfter = TimeSpan.FromSeconds(3);

    /// <summary>Bound of every await on the cluster: a hung call fails the test instead of hanging it.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private TestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _cluster = await TestClusters.StartAsync<SiloConfigurator>(2);
    }

    public async Task DisposeAsync()
    {
        await TestClusters.StopAsync(_cluster);
    }

    [Fact]
    public async Task Replica_OfACampaignActiveOnTheOtherSilo_ServesItsModel_AndFollowsLearningAfterTheRefreshInterval()
    {
        const string id = "remote-campaign";
        var key = SiloModel.KeyOf(id);
        var first = Examples.Batch(id, 200, seed: 11);
        Assert.Equal(200, await _cluster.GrainFactory.GetGrain<ICampaignGrain>(id).Learn(Examples.All(first).AsImmutable()));
        var (owner, other) = OwnerAndOther(key);
        var replicas = Services(other).GetRequiredService<CampaignReplicas>();
        var clock = Services(other).GetRequiredService<ManualTimeProvider>();
        Assert.False(replicas.TryGet(key, out _));

        // The first prediction's fetch: one call, then the same scores as the owner's live model, exactly.
        var replica = await replicas.GetOrFetchAsync(key, id).WaitAsync(Bound);
        Assert.Equal(1, replicas.Fetches);
        Assert.Equal(200, replica.Examples);
        AssertSameScores(LiveModel(owner, key), replica.Model!, first);
        Assert.True(replicas.TryGet(key, out var held));
        Assert.Same(replica, held);

        // More learning on the owner: the replica is unchanged until the other silo's clock passes the interval.
        var second = Examples.Batch(id, 300, seed: 12);
        await _cluster.GrainFactory.GetGrain<ICampaignGrain>(id).Learn(Examples.All(second).AsImmutable());
        Assert.Equal(200, replica.Examples);
        var pass = replicas.NextPass;
        clock.Advance(Refresh);
        await pass.WaitAsync(Bound);
        Assert.True(replicas.TryGet(key, out var refreshed));
        Assert.Equal(500, refreshed.Examples);
        AssertSameScores(LiveModel(owner, key), refreshed.Model!, second);
        Assert.Equal(1, replicas.Refreshes);
        Assert.Equal(Refresh.TotalSeconds, replicas.AgeSeconds(replica), 9); // the old one was taken at 0, now is 1 s
        Assert.Equal(0, replicas.AgeSeconds(refreshed), 9);

        // Read, nothing learned: the next pass moves no model (the same object) but renews its age.
        pass = replicas.NextPass;
        clock.Advance(Refresh);
        await pass.WaitAsync(Bound);
        Assert.True(replicas.TryGet(key, out var unchanged));
        Assert.Same(refreshed.Model, unchanged.Model);
        Assert.Equal(0, replicas.AgeSeconds(unchanged), 9);
        Assert.Equal(1, replicas.Fetches); // no call per read: still the one fetch
        Assert.Equal(2, replicas.Refreshes);

        // Not read during a pause (shorter than DropAfter) while the owner learns: still refreshed, so the first read
        // after the pause is not as old as the pause.
        var third = Examples.Batch(id, 100, seed: 13);
        await _cluster.GrainFactory.GetGrain<ICampaignGrain>(id).Learn(Examples.All(third).AsImmutable());
        pass = replicas.NextPass;
        clock.Advance(Refresh);
        await pass.WaitAsync(Bound);
        Assert.True(replicas.TryGet(key, out var afterPause));
        Assert.Equal(600, afterPause.Examples);
        AssertSameScores(LiveModel(owner, key), afterPause.Model!, third);
        Assert.Equal(0, replicas.RefreshFailures);
    }

    [Fact]
    public async Task Replica_OfACampaignNeverLearned_HasNoModel()
    {
        var replicas = Services(_cluster.Primary!.SiloAddress).GetRequiredService<CampaignReplicas>();
        var replica = await replicas.GetOrFetchAsync(SiloModel.KeyOf("never-learned"), "never-learned").WaitAsync(Bound);
        Assert.Null(replica.Model); // the global model alone: cold start
        Assert.Equal(0, replica.Examples);
    }

    [Fact]
    public async Task GetOrFetch_ConcurrentCallersOfOneCampaign_ShareOneCall()
    {
        const string id = "shared-fetch";
        await _cluster.GrainFactory.GetGrain<ICampaignGrain>(id).Learn(Examples.All(Examples.Batch(id, 50, seed: 3)).AsImmutable());
        var (_, other) = OwnerAndOther(SiloModel.KeyOf(id));
        var replicas = Services(other).GetRequiredService<CampaignReplicas>();
        var calls = new Task<CampaignReplica>[8];
        for (var i = 0; i < calls.Length; i++)
        {
            calls[i] = replicas.GetOrFetchAsync(SiloModel.KeyOf(id), id);
        }

        var got = await Task.WhenAll(calls).WaitAsync(Bound);
        Assert.Equal(1, replicas.Fetches);
        Assert.All(got, r => Assert.Same(got[0], r));
    }

    [Fact]
    public async Task Refresh_ReplicaNotReadForDropAfter_IsDropped_AndAReadOneIsKept()
    {
        var silo = _cluster.Primary!.SiloAddress;
        var clock = new ManualTimeProvider(DateTimeOffset.UnixEpoch); // this store's own: no timer, passes run by hand
        var replicas = new CampaignReplicas(DetachedSilo(clock), Services(silo).GetRequiredService<IGrainFactory>(), Refresh, DropAfter, 100, clock);
        await replicas.GetOrFetchAsync(SiloModel.KeyOf("read"), "read").WaitAsync(Bound);
        await replicas.GetOrFetchAsync(SiloModel.KeyOf("unread"), "unread").WaitAsync(Bound);

        // Pass at 1 s: both were read (their fetch) and refreshed. Then only "read" is read again, every second.
        for (var second = 1; second <= 4; second++)
        {
            clock.Advance(Refresh);
            await replicas.RefreshAsync().WaitAsync(Bound);
            Assert.True(replicas.TryGet(SiloModel.KeyOf("read"), out _));

            // "unread" was last read before the pass at 1 s: kept while fewer than DropAfter (3 s) have passed since.
            var expected = second - 1 < DropAfter.TotalSeconds ? 2 : 1;
            Assert.Equal(expected, replicas.Count);
        }

        Assert.Equal(1, replicas.Dropped);
    }

    [Fact]
    public async Task Refresh_MoreReplicasThanTheMaximum_KeepsTheMaximum()
    {
        var silo = _cluster.Primary!.SiloAddress;
        var clock = new ManualTimeProvider(DateTimeOffset.UnixEpoch);
        var replicas = new CampaignReplicas(DetachedSilo(clock), Services(silo).GetRequiredService<IGrainFactory>(), Refresh, TimeSpan.FromHours(1), 3, clock);
        for (var i = 0; i < 5; i++)
        {
            // A second apart, so their last reads order them: the first two fetched are the least recently read.
            await replicas.GetOrFetchAsync(SiloModel.KeyOf("c" + i), "c" + i).WaitAsync(Bound);
            await replicas.RefreshAsync().WaitAsync(Bound);
            clock.Advance(Refresh);
        }

        Assert.Equal(3, replicas.Count);
        Assert.False(replicas.TryGet(SiloModel.KeyOf("c0"), out _));
        Assert.False(replicas.TryGet(SiloModel.KeyOf("c1"), out _));
        Assert.True(replicas.TryGet(SiloModel.KeyOf("c4"), out _));
    }

    [Fact]
    public async Task Refresh_CampaignActiveOnThisSilo_DropsItsReplica()
    {
        const string id = "local-now";
        var key = SiloModel.KeyOf(id);
        await _cluster.GrainFactory.GetGrain<ICampaignGrain>(id).Learn(Examples.All(Examples.Batch(id, 20, seed: 5)).AsImmutable());
        var (owner, _) = OwnerAndOther(key);
        var replicas = new CampaignReplicas(Services(owner).GetRequiredService<SiloModel>(), Services(owner).GetRequiredService<IGrainFactory>(), Refresh, DropAfter, 100, new ManualTimeProvider(DateTimeOffset.UnixEpoch));
        await replicas.GetOrFetchAsync(key, id).WaitAsync(Bound);
        await replicas.RefreshAsync().WaitAsync(Bound);
        Assert.Equal(0, replicas.Count); // the view serves it here
    }

    /// <summary>
    /// A silo model with an empty view, for a store whose expiry and bound are under test: the grains of its campaigns
    /// may be activated on either silo, and a replica of a campaign in the store's own view is dropped (the next test).
    /// </summary>
    private static SiloModel DetachedSilo(TimeProvider clock) =>
        new(new DenseFtrlModel(8, CampaignGrainClusterFixture.GlobalParameters), CampaignGrainClusterFixture.CampaignParameters, 1.0, clock);

    private IServiceProvider Services(SiloAddress silo) => _cluster.GetSiloServiceProvider(silo);

    private (SiloAddress Owner, SiloAddress Other) OwnerAndOther(ulong key)
    {
        var silos = _cluster.Silos.Select(s => s.SiloAddress).ToArray();
        Assert.Equal(2, silos.Length);
        var owners = silos.Where(s => Services(s).GetRequiredService<SiloModel>().View.TryGet(key, out _)).ToArray();
        var owner = Assert.Single(owners);
        return (owner, silos.Single(s => !s.Equals(owner)));
    }

    private SparseFtrlModel LiveModel(SiloAddress silo, ulong key)
    {
        Assert.True(Services(silo).GetRequiredService<SiloModel>().View.TryGet(key, out var entry));
        return entry.Model;
    }

    /// <summary>The compact format keeps z and n as floats: a replica scores exactly as the live model does.</summary>
    private static void AssertSameScores(SparseFtrlModel live, SparseFtrlModel replica, ExampleBatch batch)
    {
        Assert.Equal(live.Coordinates, replica.Coordinates);
        for (var i = 0; i < batch.Count; i++)
        {
            Assert.Equal(live.Dot(batch.CampaignIndices(i), batch.CampaignValues(i)), replica.Dot(batch.CampaignIndices(i), batch.CampaignValues(i)));
        }
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.Services.AddSingleton(new ManualTimeProvider(DateTimeOffset.UnixEpoch));
            siloBuilder.Services.AddCampaignGrains(
                _ => new CampaignGrainStorage(Directory.CreateTempSubdirectory("adctr-grain-tests-").FullName, deleteOnDispose: true),
                sp => new SiloModel(new DenseFtrlModel(CampaignGrainClusterFixture.Bits, CampaignGrainClusterFixture.GlobalParameters), CampaignGrainClusterFixture.CampaignParameters, 1.0, sp.GetRequiredService<ManualTimeProvider>()));
            siloBuilder.Services.AddCampaignReplicas(sp => new CampaignReplicas(sp.GetRequiredService<SiloModel>(), sp.GetRequiredService<IGrainFactory>(), Refresh, DropAfter, 1000));
        }
    }
}
