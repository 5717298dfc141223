using AdCtr.Grains.Events;
using AdCtr.Grains.Storage;
using AdCtr.Learning.Ftrl;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace AdCtr.Grains.Tests;

/// <summary>
/// The per-silo events grain on a two-silo in-process <see cref="TestCluster"/>: the grain keyed by a silo's address
/// runs on that silo whoever calls it (<see cref="SiloKeyedPlacementDirector"/>), and a key naming no silo of the
/// cluster fails the call instead of running anywhere else.
/// </summary>
public sealed class SiloEventsGrainTests : IAsyncLifetime
{
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
    public async Task Apply_KeyedBySiloAddress_RunsOnThatSilo_FromTheClientAndFromEitherSilo()
    {
        var silos = _cluster.Silos.Select(s => s.SiloAddress).ToArray();
        Assert.Equal(2, silos.Length);
        // Callers: the external client (through either gateway) and each silo's own grain factory.
        var callers = new List<IGrainFactory> { _cluster.GrainFactory };
        callers.AddRange(silos.Select(s => _cluster.GetSiloServiceProvider(s).GetRequiredService<IGrainFactory>()));
        foreach (var caller in callers)
        {
            foreach (var target in silos)
            {
                var events = new[] { new ForwardedEvent(0, 42, 1), new ForwardedEvent(1, 42, 2), new ForwardedEvent(1, 7, 3) };
                var reply = await caller.GetGrain<ISiloEventsGrain>(target.ToParsableString()).Apply(events);

                Assert.Equal(target.Endpoint.Port, reply.Positives); // the sink of the target silo answered
                Assert.Equal([0, 1, 1], reply.Outcomes); // each event's type, in the order sent
            }
        }

        foreach (var silo in silos)
        {
            var sink = (RecordingSink)_cluster.GetSiloServiceProvider(silo).GetRequiredService<ISiloEventsSink>();
            Assert.Equal(3 * callers.Count, sink.Applied);
        }
    }

    [Fact]
    public async Task Apply_KeyedByASiloOutsideTheCluster_Fails_AndRunsNowhere()
    {
        var primary = _cluster.Primary!.SiloAddress;
        var absent = SiloAddress.New(primary.Endpoint.Address, primary.Endpoint.Port + 1000, primary.Generation);
        await Assert.ThrowsAnyAsync<Exception>(() => _cluster.GrainFactory.GetGrain<ISiloEventsGrain>(absent.ToParsableString()).Apply([new ForwardedEvent(0, 1, 0)]));
        await Assert.ThrowsAnyAsync<Exception>(() => _cluster.GrainFactory.GetGrain<ISiloEventsGrain>("not a silo").Apply([new ForwardedEvent(0, 1, 0)]));

        foreach (var silo in _cluster.Silos)
        {
            Assert.Equal(0, ((RecordingSink)_cluster.GetSiloServiceProvider(silo.SiloAddress).GetRequiredService<ISiloEventsSink>()).Applied);
        }
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.Services.AddSingleton<ISiloEventsSink>(sp => new RecordingSink(sp.GetRequiredService<ILocalSiloDetails>().SiloAddress));
            siloBuilder.Services.AddCampaignGrains(
                _ => new CampaignGrainStorage(Directory.CreateTempSubdirectory("adctr-grain-tests-").FullName, deleteOnDispose: true),
                _ => new SiloModel(new DenseFtrlModel(8, CampaignGrainClusterFixture.GlobalParameters), CampaignGrainClusterFixture.CampaignParameters, 1.0, TimeProvider.System));
        }
    }

    /// <summary>Answers each event's type as its outcome and this silo's port as the positives; counts the events applied.</summary>
    private sealed class RecordingSink(SiloAddress silo) : ISiloEventsSink
    {
        private int _applied;

        public int Applied => Volatile.Read(ref _applied);

        public Task<ForwardedEventsReply> ApplyAsync(ForwardedEvent[] events, CancellationToken ct)
        {
            Interlocked.Add(ref _applied, events.Length);
            return Task.FromResult(new ForwardedEventsReply { Outcomes = [.. events.Select(e => e.Type)], Positives = silo.Endpoint.Port });
        }
    }
}
