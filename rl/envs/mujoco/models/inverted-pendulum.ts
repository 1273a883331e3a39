/**
 * InvertedPendulum-v5's body, from Gymnasium 1.3.0's
 * `gymnasium/envs/mujoco/assets/inverted_pendulum.xml` (the asset `inverted_pendulum_v5.py` loads): the
 * same compiler settings (angles in degrees), defaults, option (RK4, 20 ms), bodies, joints, geoms and
 * actuator. Left out, as they change no number of the simulation: geom colours, the empty tendon
 * default and the legacy `nstack` (the arena's size: MuJoCo sizes it from the model).
 */
export const INVERTED_PENDULUM_XML = `<mujoco model="inverted pendulum">
  <compiler inertiafromgeom="true"/>
  <default>
    <joint armature="0" damping="1" limited="true"/>
    <geom contype="0" friction="1 0.1 0.1"/>
    <motor ctrlrange="-3 3"/>
  </default>
  <option gravity="0 0 -9.81" integrator="RK4" timestep="0.02"/>
  <worldbody>
    <geom name="rail" pos="0 0 0" quat="0.707 0 0.707 0" size="0.02 1" type="capsule"/>
    <body name="cart" pos="0 0 0">
      <joint axis="1 0 0" limited="true" name="slider" pos="0 0 0" range="-1 1" type="slide"/>
      <geom name="cart" pos="0 0 0" quat="0.707 0 0.707 0" size="0.1 0.1" type="capsule"/>
      <body name="pole" pos="0 0 0">
        <joint axis="0 1 0" name="hinge" pos="0 0 0" range="-90 90" type="hinge"/>
        <geom fromto="0 0 0 0.001 0 0.6" name="cpole" size="0.049 0.3" type="capsule"/>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor ctrllimited="true" ctrlrange="-3 3" gear="100" joint="slider" name="slide"/>
  </actuator>
</mujoco>
`;
