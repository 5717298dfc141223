using AdCtr.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.Hosting;

namespace AdCtr.Grains;

/// <summary>Registers what campaign grains need in a silo.</summary>
public static class CampaignGrainHosting
{
    /// <summary>
    /// Registers the campaign grain storage (<see cref="CampaignGrainStorage.ProviderName"/>) made by
    /// <paramref name="storage"/>, and the silo's <see cref="SiloModel"/> made by <paramref name="model"/>.
    /// </summary>
    public static IServiceCollection AddCampaignGrains(this IServiceCollection services, Func<IServiceProvider, CampaignGrainStorage> storage, Func<IServiceProvider, SiloModel> model)
    {
        services.AddSingleton(storage);
        services.AddSingleton(model);
        services.AddGrainStorage(CampaignGrainStorage.ProviderName, static (sp, _) => sp.GetRequiredService<CampaignGrainStorage>());
        return services;
    }
}
