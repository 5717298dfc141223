namespace AdCtr.Grains.Runtime;

/// <summary>Gets references to grains (Orleans' IGrainFactory).</summary>
public interface IGrainFactory
{
    /// <summary>A reference to the grain of class <typeparamref name="TGrain"/> with an integer key.</summary>
    GrainReference<TGrain> GetGrain<TGrain>(long key)
        where TGrain : Grain;

    /// <summary>A reference to the grain of class <typeparamref name="TGrain"/> with a string key.</summary>
    GrainReference<TGrain> GetGrain<TGrain>(string key)
        where TGrain : Grain;
}
