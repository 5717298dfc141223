using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;

namespace AdCtr.Server.ConsolePage;

/// <summary>Registers and maps the console page and its JSON feeds.</summary>
internal static class ConsoleHosting
{
    /// <summary>Registers the options, the reliability reader and the history sampler. Call after the engine's hosted services.</summary>
    public static WebApplicationBuilder AddAdCtrConsole(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ConsoleOptions>().BindConfiguration(ConsoleOptions.SectionName).ValidateDataAnnotations()
            .Validate(o => o.IsValid(), "AdCtr:Console: HistoryInterval must be in 1 s..1 h and ReliabilityMinInterval in 0..10 min").ValidateOnStart();
        services.AddSingleton<ReliabilityReader>();
        services.AddSingleton<ModelHistory>();
        services.AddHostedService(sp => sp.GetRequiredService<ModelHistory>());
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, ConsoleJsonContext.Default));
        return builder;
    }

    public static WebApplication MapAdCtrConsole(this WebApplication app)
    {
        _ = app.Services.GetRequiredService<IOptions<ConsoleOptions>>();
        app.MapConsoleApi();
        return app;
    }
}

/// <summary>Source-generated JSON of the console's feeds.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(ReliabilityResponse))]
[JsonSerializable(typeof(ModelHistoryResponse))]
[JsonSerializable(typeof(JoinerStateResponse))]
internal sealed partial class ConsoleJsonContext : JsonSerializerContext;
