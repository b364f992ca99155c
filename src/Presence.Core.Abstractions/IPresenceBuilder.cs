using Microsoft.Extensions.DependencyInjection;

namespace Presence;

/// <summary>Configures the presence services registered by <c>AddPresence</c>; store and transport packages extend it.</summary>
public interface IPresenceBuilder
{
    /// <summary>Gets the service collection the engine is registered in.</summary>
    IServiceCollection Services { get; }
}
