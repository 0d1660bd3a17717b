# TEST FIXTURE written for virt-pipeline: NOT a copy of mock-core-configs.
# It mimics the structure of the real template (same kind of keys, include order and jinja use)
# with a few keys only, so tests can load generated configs the way mock does.
config_opts['chroot_setup_cmd'] = 'install bash coreutils rpm-build openEuler-rpm-config openEuler-release'
config_opts['dist'] = 'oe2203'  # a resultdir label only, not the %dist macro
config_opts['releasever'] = '22.03LTS_SP4'
config_opts['package_manager'] = 'dnf'
config_opts['description'] = 'fixture openEuler 22.03'
config_opts['extra_chroot_dirs'] = ['/run/lock']
config_opts['bootstrap_image'] = 'fixture.invalid/openeuler:22.03'

config_opts['dnf.conf'] = """
[main]
reposdir=/dev/null
gpgcheck=0
assumeyes=1
install_weak_deps=0
module_platform_id=platform:oe2203
user_agent={{ user_agent }}

[fixture-OS]
name=fixture-OS
baseurl=https://fixture.invalid/openeuler/$releasever/OS/$basearch/
enabled=1
"""
