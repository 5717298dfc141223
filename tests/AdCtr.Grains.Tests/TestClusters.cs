using Orleans.TestingHost;

namespace AdCtr.Grains.Tests;

/// <summary>Starting and stopping the in-process Orleans clusters of these tests (one way for every fixture).</summary>
internal static class TestClusters
{
    /// <summary>Deploys <paramref name="silos"/> in-process silos configured by <typeparamref name="TConfigurator"/>.</summary>
    public static async Task<TestCluster> StartAsync<TConfigurator>(short silos)
        where TConfigurator : ISiloConfigurator, new()
    {
        var builder = new TestClusterBuilder(silos);
        builder.AddSiloBuilderConfigurator<TConfigurator>();
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    /// <summary>Stops every silo, then disposes the cluster.</summary>
    public static async Task StopAsync(TestCluster cluster)
    {
        await cluster.StopAllSilosAsync();
        await cluster.DisposeAsync();
    }
}
