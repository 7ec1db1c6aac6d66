// The command prefix that runs a child as an ordinary user (uid/gid 65534, no
// supplementary groups, no inheritable capabilities), through util-linux setpriv.
export const asNobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"] as const;
