using Microsoft.Extensions.DependencyInjection;

namespace Presence.Internal;

internal sealed class PresenceBuilder(IServiceCollection services) : IPresenceBuilder
{
    public IServiceCollection Services { get; } = services;
}
