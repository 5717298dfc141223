using AdCtr.Grains.Journal;
using AdCtr.Grains.Storage;
using Orleans.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Runtime.Hosting;

namespace AdCtr.Grains;

/// <summary>Registers what campaign grains need in a silo.</summary>
public static class CampaignGrainHosting
{
    /// <summary>
    /// Registers the campaign grain storage (<see cref="CampaignGrainStorage.ProviderName"/>) made by
    /// <paramref name="storage"/>, and the silo's <see cref="SiloModel"/> made by <paramref name="model"/>.
    /// </summary>
    /// <param name="durability">In a cluster: the campaign journal, the checkpoint interval, and the grain storage
    /// that keeps checkpoints (PostgreSQL); null: a single node, states in <paramref name="storage"/>.</param>
    public static IServiceCollection AddCampaignGrains(
        this IServiceCollection services,
        Func<IServiceProvider, CampaignGrainStorage> storage,
        Func<IServiceProvider, SiloModel> model,
        (Func<IServiceProvider, CampaignDurability> Durability, Func<IServiceProvider, IGrainStorage> Checkpoints)? durability = null)
    {
        services.AddSingleton(storage);
        services.AddSingleton(model);
        services.TryAddSingleton(TimeProvider.System);
        services.AddPlacementDirector<Events.SiloKeyedPlacementStrategy, Events.SiloKeyedPlacementDirector>();
        if (durability is { } cluster)
        {
            services.AddSingleton(cluster.Durability);
            services.AddGrainStorage(CampaignGrainStorage.ProviderName, (sp, _) => cluster.Checkpoints(sp));
        }
        else
        {
            services.AddSingleton(CampaignDurability.Local);
            services.AddGrainStorage(CampaignGrainStorage.ProviderName, static (sp, _) => sp.GetRequiredService<CampaignGrainStorage>());
        }

        return services;
    }

    /// <summary>
    /// In a cluster: the silo's <see cref="CampaignReplicas"/> made by <paramref name="replicas"/> and the
    /// <see cref="ReplicaRefresher"/> that refreshes them every interval.
    /// </summary>
    public static IServiceCollection AddCampaignReplicas(this IServiceCollection services, Func<IServiceProvider, CampaignReplicas> replicas)
    {
        services.AddSingleton(replicas);
        services.AddSingleton<ReplicaRefresher>();
        services.AddHostedService(static sp => sp.GetRequiredService<ReplicaRefresher>());
        return services;
    }
}
