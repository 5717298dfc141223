using System.Collections.Concurrent;
using AdCtr.Grains.Storage;
using AdCtr.Learning.Features;
using AdCtr.Learning.Ftrl;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace AdCtr.Grains.Tests;

/// <summary>
/// A one-silo Orleans <see cref="TestCluster"/> (in process) with the campaign grains, their storage in a temporary
/// directory and a <see cref="SiloModel"/> whose observer records every progressive prediction. Calls go through the
/// cluster's client, as an external caller's would (so grain arguments are serialized, too).
/// </summary>
public sealed class CampaignGrainClusterFixture : IAsyncLifetime
{
    public const int Bits = 16;

    public static readonly FtrlParameters GlobalParameters = new(0.1, 1.0, 0.0, 1.0);

    public static readonly FtrlParameters CampaignParameters = new(0.1, 1.0, 0.0, 20.0);

    public TestCluster Cluster { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.GrainFactory;

    public SiloModel Silo => Services.GetRequiredService<SiloModel>();

    public CampaignGrainStorage Storage => Services.GetRequiredService<CampaignGrainStorage>();

    public RecordingObserver Observer => Services.GetRequiredService<RecordingObserver>();

    private IServiceProvider Services => Cluster.GetSiloServiceProvider(Cluster.Primary!.SiloAddress);

    public async Task InitializeAsync()
    {
        Cluster = await TestClusters.StartAsync<SiloConfigurator>(1);
    }

    public async Task DisposeAsync()
    {
        await TestClusters.StopAsync(Cluster);
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.Services.AddSingleton<RecordingObserver>();
            siloBuilder.Services.AddCampaignGrains(
                _ => new CampaignGrainStorage(Directory.CreateTempSubdirectory("adctr-grain-tests-").FullName, deleteOnDispose: true),
                sp => new SiloModel(new DenseFtrlModel(Bits, GlobalParameters), CampaignParameters, 1.0, TimeProvider.System) { Observer = sp.GetRequiredService<RecordingObserver>() });
        }
    }
}

/// <summary>Records the label and weight of every progressive prediction, in learning order.</summary>
public sealed class RecordingObserver : IProgressiveObserver
{
    public ConcurrentQueue<(float Label, float Weight)> Seen { get; } = new();

    public void Record(double prediction, float label, float weight) => Seen.Enqueue((label, weight));
}

/// <summary>Deterministic encoded examples (fixed seeds) for the grain tests.</summary>
internal static class Examples
{
    /// <summary>A batch of <paramref name="count"/> examples of campaign <paramref name="campaignId"/>, each with weight <paramref name="weight"/>.</summary>
    public static ExampleBatch Batch(string campaignId, int count, int seed, float weight = 1f)
    {
        var random = new Random(seed);
        var batch = new ExampleBatch();
        var x = new EncodedExample();
        for (var i = 0; i < count; i++)
        {
            x.Clear();
            x.Global.Add(0, 1f);
            x.Campaign.Add(0, 1f);
            for (var k = 0; k < 8; k++)
            {
                var index = random.Next(1, 1 << CampaignGrainClusterFixture.Bits);
                x.Global.Add(index, 1f);
                if (k < 4)
                {
                    x.Campaign.Add(index, 1f);
                }
            }

            x.HasCampaign = true;
            x.CampaignKey = SiloModel.KeyOf(campaignId);
            batch.Add(x, random.NextDouble() < 0.2 ? 1f : 0f, weight, 0);
        }

        return batch;
    }

    public static CampaignSlice All(ExampleBatch batch) => new(batch, [.. Enumerable.Range(0, batch.Count)]);
}
